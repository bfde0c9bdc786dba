"""What every property harness shares: named Assert/Cover statements, the power-up reset."""

from amaranth.hdl import Assert, Assume, Cover, Elaboratable, Signal

__all__ = ["PropertyHarness"]


class PropertyHarness(Elaboratable):
    """Base of the harnesses: ``properties`` (names asserted), ``asserts`` / ``covers``
    (property name to the ``src_loc`` of its statements, for the report)."""

    def __init__(self, properties):
        self.properties = tuple(properties)
        self.asserts = {}
        self.covers = {}

    def _assert(self, m, name, cond, text):
        if name in self.properties:
            stmt = Assert(cond, f"{name}: {text}", src_loc_at=1)
            m.d.comb += stmt
            self.asserts.setdefault(name, []).append(stmt.src_loc)

    def _cover(self, m, name, cond, text):
        stmt = Cover(cond, f"{name}: {text}", src_loc_at=1)
        m.d.comb += stmt
        self.covers.setdefault(name, []).append((stmt.src_loc, text))

    @staticmethod
    def _reset_at_power_up(m, rst):
        """The contract starts at a reset: ECP5 register models power up at any value."""
        power_up = Signal(init=1, reset_less=True, name="power_up")
        m.d.sync += power_up.eq(0)
        m.d.comb += Assume(~power_up | rst)
