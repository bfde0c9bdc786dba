// Behavioural model of the subset of the Lattice ECP5 DP16KD that hw/gemm_buffer.py uses.
//
// NOT a general model of DP16KD (yosys ships it as a black box only). It covers exactly the
// configuration of hw/gemm_buffer.py and refuses every other one: port A writes only
// (WRITEMODE_A "NORMAL", its read data unused), port B reads only (WEB tied low) through
// its output register (REGMODE_B "OUTREG"), both ports DATA_WIDTH 1, 2, 4, 9 or 18 and
// equal, chip selects decoded as 0b000 and tied low, CEx and OCEx usable, RSTx tied low,
// GSR disabled. Addressing follows yosys' share/lattice/brams_map_16kd.v: a DATA_WIDTH w
// port takes its word address on ADx[13:s] with s = log2(16384 / depth(w)) (18: ADx[13:4],
// 9: ADx[13:3], 4: ADx[13:2], 2: ADx[13:1], 1: ADx[13:0]); at width 18, ADA[1:0] are the
// byte write enables (both high here). Data on DIx[w-1:0] / DOx[w-1:0].
//
// Read timing (port B, REGMODE OUTREG): the word at the address of a rising edge with CEB
// high is latched at that edge, and moves into the output register at the next rising edge
// with OCEB high: DOB shows it two edges after the address. Reading the address written at
// the same edge returns the old word (the two ports share no bypass in this model).

module DP16KD (
    input DIA17, DIA16, DIA15, DIA14, DIA13, DIA12, DIA11, DIA10, DIA9, DIA8, DIA7, DIA6,
          DIA5, DIA4, DIA3, DIA2, DIA1, DIA0,
    input ADA13, ADA12, ADA11, ADA10, ADA9, ADA8, ADA7, ADA6, ADA5, ADA4, ADA3, ADA2, ADA1,
          ADA0,
    input CEA, OCEA, CLKA, WEA, RSTA, CSA2, CSA1, CSA0,
    input DIB17, DIB16, DIB15, DIB14, DIB13, DIB12, DIB11, DIB10, DIB9, DIB8, DIB7, DIB6,
          DIB5, DIB4, DIB3, DIB2, DIB1, DIB0,
    input ADB13, ADB12, ADB11, ADB10, ADB9, ADB8, ADB7, ADB6, ADB5, ADB4, ADB3, ADB2, ADB1,
          ADB0,
    input CEB, OCEB, CLKB, WEB, RSTB, CSB2, CSB1, CSB0,
    output DOB17, DOB16, DOB15, DOB14, DOB13, DOB12, DOB11, DOB10, DOB9, DOB8, DOB7, DOB6,
           DOB5, DOB4, DOB3, DOB2, DOB1, DOB0
);
    parameter DATA_WIDTH_A = 18;
    parameter DATA_WIDTH_B = 18;
    parameter REGMODE_A = "NOREG";
    parameter REGMODE_B = "NOREG";
    parameter RESETMODE = "SYNC";
    parameter ASYNC_RESET_RELEASE = "SYNC";
    parameter CSDECODE_A = "0b000";
    parameter CSDECODE_B = "0b000";
    parameter WRITEMODE_A = "NORMAL";
    parameter WRITEMODE_B = "NORMAL";
    parameter CLKAMUX = "CLKA";
    parameter CLKBMUX = "CLKB";
    parameter GSR = "ENABLED";

    localparam W = DATA_WIDTH_B;
    localparam SHIFT = W == 18 ? 4 : W == 9 ? 3 : W == 4 ? 2 : W == 2 ? 1 : 0;
    localparam DEPTH = 16384 >> SHIFT;

    localparam SUPPORTED = DATA_WIDTH_A == DATA_WIDTH_B &&
                           (W == 1 || W == 2 || W == 4 || W == 9 || W == 18) &&
                           REGMODE_B == "OUTREG" && WRITEMODE_A == "NORMAL" &&
                           CSDECODE_A == "0b000" && CSDECODE_B == "0b000" &&
                           CLKAMUX == "CLKA" && CLKBMUX == "CLKB" && GSR == "DISABLED";
    generate
        if (!SUPPORTED) begin : unsupported
            $error("DP16KD model (hw/sim_models): only the configuration of hw/gemm_buffer.py is modelled (A writes, B reads through OUTREG, equal widths 1/2/4/9/18, GSR disabled)");
        end
    endgenerate

    wire [13:0] ada = {ADA13, ADA12, ADA11, ADA10, ADA9, ADA8, ADA7, ADA6, ADA5, ADA4, ADA3,
                       ADA2, ADA1, ADA0};
    wire [13:0] adb = {ADB13, ADB12, ADB11, ADB10, ADB9, ADB8, ADB7, ADB6, ADB5, ADB4, ADB3,
                       ADB2, ADB1, ADB0};
    wire [17:0] dia = {DIA17, DIA16, DIA15, DIA14, DIA13, DIA12, DIA11, DIA10, DIA9, DIA8,
                       DIA7, DIA6, DIA5, DIA4, DIA3, DIA2, DIA1, DIA0};

    reg [W-1:0] mem [0:DEPTH-1];
    reg [W-1:0] latch = 0;
    reg [W-1:0] outreg = 0;

    always @(posedge CLKA) begin
        if ({CSA2, CSA1, CSA0} !== 3'b000 || RSTA !== 1'b0)
            $fatal(1, "DP16KD model (hw/sim_models): needs CSA = 0 and RSTA = 0");
        if (CEA && WEA) begin
            if (W == 18 && ada[1:0] !== 2'b11)
                $fatal(1, "DP16KD model (hw/sim_models): x18 writes need ADA[1:0] = 11");
            mem[ada[13:SHIFT]] <= dia[W-1:0];
        end
    end

    always @(posedge CLKB) begin
        if ({CSB2, CSB1, CSB0} !== 3'b000 || RSTB !== 1'b0 || WEB !== 1'b0)
            $fatal(1, "DP16KD model (hw/sim_models): needs CSB = 0, RSTB = 0, WEB = 0");
        if (OCEB)
            outreg <= latch;
        if (CEB)
            latch <= mem[adb[13:SHIFT]];
    end

    wire [17:0] dob = {{(18 - W){1'b0}}, outreg};
    assign {DOB17, DOB16, DOB15, DOB14, DOB13, DOB12, DOB11, DOB10, DOB9, DOB8, DOB7, DOB6,
            DOB5, DOB4, DOB3, DOB2, DOB1, DOB0} = dob;
endmodule
