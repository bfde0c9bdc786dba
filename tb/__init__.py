"""cocotb testbenches and the plumbing that runs them under Verilator."""
