// FuseSoC `sim` smoke test of rtl/sparse_mma.v (Verilator --binary): one tile operation
// with zero operands and valid metadata must give one all-zero D tile without an error.
// The bit-exact verification is the cocotb suite (make sim); this checks the packaging.
`timescale 1ns/1ps
module axi_smoke_core;
  reg clk = 0, rst = 1;
  always #5 clk = ~clk;
  reg a_valid = 0, b_valid = 0;
  wire a_ready, b_ready, d_valid, d_error, error;
  wire [511:0] d_data;
  sparse_mma dut (
    .clk(clk), .rst(rst),
    .a_valid(a_valid), .a_ready(a_ready), .a_values(256'd0), .a_meta({4{16'h4444}}),
    .a_first(1'b1), .a_last(1'b1),
    .b_valid(b_valid), .b_ready(b_ready), .b_data(512'd0),
    .d_valid(d_valid), .d_ready(1'b1), .d_data(d_data), .d_error(d_error), .error(error));
  integer cycles = 0;
  initial begin
    repeat (4) @(posedge clk);
    rst <= 0;
    a_valid <= 1; b_valid <= 1;
    @(posedge clk);
    while (!(a_ready && b_ready)) @(posedge clk);
    a_valid <= 0; b_valid <= 0;
    while (!d_valid && cycles < 100) begin @(posedge clk); cycles = cycles + 1; end
    if (!d_valid || d_data != 0 || d_error) begin
      $display("FAIL: d_valid=%b d_error=%b", d_valid, d_error);
      $fatal(1);
    end
    $display("PASS: one D tile after %0d cycles", cycles);
    $finish;
  end
endmodule
