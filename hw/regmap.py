"""One definition of the accelerator's register map, shared by the RTL, the drivers and the docs.

The engine (:mod:`hw.gemm`) decodes its registers from :data:`ENGINE_REGISTERS`, the bus
wrappers decide which accesses are errors from the same list, and ``docs/registers.md`` is
generated from it (``python -m hw.regmap``; a test checks that the document is current), so the
three cannot drift apart.

Addresses are **word** addresses (a byte address on a 32-bit bus is ``4 * addr``). The word
address space is split by owner:

=============  ==========================================================
``0x00–0x2F``  the GEMM engine: control, job descriptor, information, counters
``0x30–0x3F``  the GEMM engine: tile-wise job registers
``0x40–0x7F``  bus wrappers (stream descriptors, interrupt, ZVC status)
=============  ==========================================================
"""

import dataclasses
import enum
import sys

__all__ = ["Access", "Field", "Register", "RegisterMap", "WORD_ADDR_WIDTH"]

#: Bits of a word address: 256 words, 1 KiB of byte address space.
WORD_ADDR_WIDTH = 8


class Access(enum.Enum):
    """How a register responds to the bus."""
    RW = "RW"    # read and write
    RO = "RO"    # read only: a write is an error (SLVERR on AXI) and changes nothing
    WO = "WO"    # write only (strobes): reads return 0
    W1C = "W1C"  # read; writing 1 to a bit clears it

    @property
    def writable(self):
        return self is not Access.RO

    @property
    def readable(self):
        return self is not Access.WO


@dataclasses.dataclass(frozen=True)
class Field:
    """A bit field of a register: ``width`` bits from bit ``lsb``, with its reset value."""
    name: str
    lsb: int
    width: int
    reset: int = 0
    doc: str = ""

    def __post_init__(self):
        if not 0 <= self.lsb or not 1 <= self.width or self.lsb + self.width > 32:
            raise ValueError(f"field {self.name} must lie within bits 0..31, "
                             f"not {self.lsb}..{self.lsb + self.width - 1}")
        if not 0 <= self.reset < 1 << self.width:
            raise ValueError(f"field {self.name}: reset value {self.reset} does not fit "
                             f"in {self.width} bits")

    @property
    def mask(self):
        return ((1 << self.width) - 1) << self.lsb


@dataclasses.dataclass(frozen=True)
class Register:
    """One 32-bit register at word address ``addr``.

    A value written to an ``RW`` register must fit its fields: a write that sets a bit outside
    every field is not truncated silently, the owner flags it (the engine's ``VALUE`` cause).
    """
    name: str
    addr: int
    access: Access
    fields: tuple
    doc: str = ""

    def __post_init__(self):
        if not 0 <= self.addr < 1 << WORD_ADDR_WIDTH:
            raise ValueError(f"register {self.name}: address {self.addr:#x} out of range")
        used = 0
        for field in self.fields:
            if used & field.mask:
                raise ValueError(f"register {self.name}: field {field.name} overlaps another")
            used |= field.mask

    @property
    def mask(self):
        """Bits that belong to a field."""
        mask = 0
        for field in self.fields:
            mask |= field.mask
        return mask

    @property
    def reset(self):
        value = 0
        for field in self.fields:
            value |= field.reset << field.lsb
        return value

    def field(self, name):
        for field in self.fields:
            if field.name == name:
                return field
        raise KeyError(f"register {self.name} has no field {name!r}")


class RegisterMap:
    """An ordered, checked collection of :class:`Register` (no two at one address)."""

    def __init__(self, registers):
        self._by_name = {}
        self._by_addr = {}
        for reg in registers:
            if reg.name in self._by_name:
                raise ValueError(f"register name {reg.name} used twice")
            if reg.addr in self._by_addr:
                raise ValueError(f"registers {self._by_addr[reg.addr].name} and {reg.name} "
                                 f"share address {reg.addr:#x}")
            self._by_name[reg.name] = reg
            self._by_addr[reg.addr] = reg

    def __iter__(self):
        return iter(sorted(self._by_addr.values(), key=lambda reg: reg.addr))

    def __len__(self):
        return len(self._by_addr)

    def __getitem__(self, name):
        return self._by_name[name]

    def at(self, addr):
        """The register at word address ``addr``, or ``None`` (a hole)."""
        return self._by_addr.get(addr)

    def __add__(self, other):
        return RegisterMap([*self, *other])

    def markdown(self, title="Register map"):
        """The register map as a markdown table (``docs/registers.md``)."""
        lines = [f"## {title}", "",
                 "Word addresses (byte address = 4 × word). Generated from `hw/regmap.py` by "
                 "`python -m hw.regmap`; do not edit by hand.", "",
                 "| word | byte | name | access | reset | fields | description |",
                 "|---|---|---|---|---|---|---|"]
        for reg in self:
            fields = "<br>".join(
                f"`[{f.lsb + f.width - 1}:{f.lsb}]` {f.name}"
                + (f" — {f.doc}" if f.doc else "") for f in reg.fields)
            lines.append(f"| {reg.addr:#04x} | {4 * reg.addr:#05x} | {reg.name} | "
                         f"{reg.access.value} | {reg.reset:#x} | {fields} | {reg.doc} |")
        return "\n".join(lines) + "\n"


def main(argv=None):
    from .axi_regs import AXI_REGISTERS
    from .gemm_regs import ENGINE_REGISTERS
    sys.stdout.write("# Registers\n\n" + ENGINE_REGISTERS.markdown("GEMM engine"))
    sys.stdout.write("\n" + AXI_REGISTERS.markdown("AXI wrapper (hw/axi_regs.py)"))
    return 0


if __name__ == "__main__":
    sys.exit(main())
