// Behavioural model of the subset of the Lattice ECP5 TRELLIS_FF that hw/fanout.py uses.
//
// NOT a general model of TRELLIS_FF (yosys' share/lattice/common_sim.vh has the full one, but
// it comes with the rest of that library). It covers exactly one configuration and refuses
// every other one: a plain D flip-flop on the rising edge of CLK, no clock enable
// (CEMUX = "1"), LSR tied low, GSR disabled. Parameter names and defaults follow yosys'
// common_sim.vh. Of the ports the model has exactly those hw/fanout.py connects: CLK, LSR,
// DI and Q (CE and M are left out, so an instance that uses them fails to elaborate).

module TRELLIS_FF (
    input      CLK,
    input      LSR,
    input      DI,
    output reg Q
);
    parameter GSR = "ENABLED";
    parameter [127:0] CEMUX = "1";
    parameter CLKMUX = "CLK";
    parameter LSRMUX = "LSR";
    parameter SRMODE = "LSR_OVER_CE";
    parameter REGSET = "RESET";
    parameter [127:0] LSRMODE = "LSR";

    // The one supported configuration; anything else stops elaboration.
    localparam SUPPORTED = GSR == "DISABLED" && CEMUX == "1" && CLKMUX == "CLK" &&
                           LSRMUX == "LSR" && LSRMODE == "LSR";
    generate
        if (!SUPPORTED) begin : unsupported
            $error("TRELLIS_FF model (hw/sim_models): only the configuration of hw/fanout.py is modelled (plain D flip-flop, CEMUX \"1\", LSR tied low, GSR disabled)");
        end
    endgenerate

    always @(posedge CLK) begin
        if (LSR !== 1'b0)
            $fatal(1, "TRELLIS_FF model (hw/sim_models): needs LSR=0");
        Q <= DI;
    end
endmodule
