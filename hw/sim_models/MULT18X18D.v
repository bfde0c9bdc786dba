// Behavioural model of the subset of the Lattice ECP5 MULT18X18D that hw/multiplier.py uses.
//
// NOT a general model of MULT18X18D (yosys ships none for ECP5; cells_sim_ecp5.v has no DSP).
// It covers exactly one configuration and refuses every other one:
//   * input registers A and B and the output register clocked by CLK0, enabled by CE0,
//     no C input register, no pipeline register (latency 2: P = A * B of two edges ago);
//   * signed operands: SIGNEDA = SIGNEDB = 1, SOURCEA = SOURCEB = 0 (parallel inputs);
//   * CE0 = 1 and RST0 = 0 always (the registers load on every edge and are never reset);
//   * the other parameters at the values hw/multiplier.py gives them (GSR disabled).
// Parameter settings are checked at elaboration, the control inputs on every CLK0 edge.
// Parameter names and defaults follow yosys' share/lattice/cells_bb_ecp5.v. Of its ports the
// model has exactly those hw/multiplier.py connects: A, B, C (tied low), SIGNEDA/B, SOURCEA/B,
// CLK0, CE0, RST0 and the product P0..P35. The shift inputs SRIA/SRIB, CLK1..3, CE1..3,
// RST1..3 and the cascade, shift and sign outputs are left out, so an instance that uses them
// fails to elaborate instead of reading a made-up value.

module MULT18X18D (
    input  A17, A16, A15, A14, A13, A12, A11, A10, A9, A8, A7, A6, A5, A4, A3, A2, A1, A0,
    input  B17, B16, B15, B14, B13, B12, B11, B10, B9, B8, B7, B6, B5, B4, B3, B2, B1, B0,
    input  C17, C16, C15, C14, C13, C12, C11, C10, C9, C8, C7, C6, C5, C4, C3, C2, C1, C0,
    input  SIGNEDA, SIGNEDB, SOURCEA, SOURCEB,
    input  CLK0, CE0, RST0,
    output P35, P34, P33, P32, P31, P30, P29, P28, P27, P26, P25, P24, P23, P22, P21, P20, P19,
           P18, P17, P16, P15, P14, P13, P12, P11, P10, P9, P8, P7, P6, P5, P4, P3, P2, P1, P0
);
    parameter REG_INPUTA_CLK = "NONE";
    parameter REG_INPUTA_CE = "CE0";
    parameter REG_INPUTA_RST = "RST0";
    parameter REG_INPUTB_CLK = "NONE";
    parameter REG_INPUTB_CE = "CE0";
    parameter REG_INPUTB_RST = "RST0";
    parameter REG_INPUTC_CLK = "NONE";
    parameter REG_INPUTC_CE = "CE0";
    parameter REG_INPUTC_RST = "RST0";
    parameter REG_PIPELINE_CLK = "NONE";
    parameter REG_PIPELINE_CE = "CE0";
    parameter REG_PIPELINE_RST = "RST0";
    parameter REG_OUTPUT_CLK = "NONE";
    parameter REG_OUTPUT_CE = "CE0";
    parameter REG_OUTPUT_RST = "RST0";
    parameter CLK0_DIV = "ENABLED";
    parameter CLK1_DIV = "ENABLED";
    parameter CLK2_DIV = "ENABLED";
    parameter CLK3_DIV = "ENABLED";
    parameter HIGHSPEED_CLK = "NONE";
    parameter GSR = "ENABLED";
    parameter CAS_MATCH_REG = "FALSE";
    parameter SOURCEB_MODE = "B_SHIFT";
    parameter MULT_BYPASS = "DISABLED";
    parameter RESETMODE = "SYNC";

    // The one supported configuration; anything else stops elaboration.
    localparam SUPPORTED =
        REG_INPUTA_CLK == "CLK0" && REG_INPUTA_CE == "CE0" && REG_INPUTA_RST == "RST0" &&
        REG_INPUTB_CLK == "CLK0" && REG_INPUTB_CE == "CE0" && REG_INPUTB_RST == "RST0" &&
        REG_INPUTC_CLK == "NONE" && REG_PIPELINE_CLK == "NONE" &&
        REG_OUTPUT_CLK == "CLK0" && REG_OUTPUT_CE == "CE0" && REG_OUTPUT_RST == "RST0" &&
        CLK0_DIV == "ENABLED" && HIGHSPEED_CLK == "NONE" && GSR == "DISABLED" &&
        CAS_MATCH_REG == "FALSE" && MULT_BYPASS == "DISABLED" && RESETMODE == "SYNC";
    generate
        if (!SUPPORTED) begin : unsupported
            $error("MULT18X18D model (hw/sim_models): only the configuration of hw/multiplier.py is modelled (A, B and output registers on CLK0/CE0, no C or pipeline register, GSR disabled)");
        end
    endgenerate

    wire [17:0] a = {A17, A16, A15, A14, A13, A12, A11, A10, A9, A8, A7, A6, A5, A4, A3, A2, A1,
                     A0};
    wire [17:0] b = {B17, B16, B15, B14, B13, B12, B11, B10, B9, B8, B7, B6, B5, B4, B3, B2, B1,
                     B0};

    reg signed [17:0] a_q;
    reg signed [17:0] b_q;
    reg signed [35:0] p_q;
    always @(posedge CLK0) begin
        if (CE0 !== 1'b1 || RST0 !== 1'b0 || SIGNEDA !== 1'b1 || SIGNEDB !== 1'b1 ||
                SOURCEA !== 1'b0 || SOURCEB !== 1'b0)
            $fatal(1, "MULT18X18D model (hw/sim_models): needs CE0=1, RST0=0, SIGNEDA=1, SIGNEDB=1, SOURCEA=0, SOURCEB=0");
        a_q <= a;
        b_q <= b;
        p_q <= a_q * b_q;
    end

    assign {P35, P34, P33, P32, P31, P30, P29, P28, P27, P26, P25, P24, P23, P22, P21, P20, P19,
            P18, P17, P16, P15, P14, P13, P12, P11, P10, P9, P8, P7, P6, P5, P4, P3, P2, P1,
            P0} = p_q;
endmodule
