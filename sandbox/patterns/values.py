"""Values as Ruler compares them: numbers as doubles (only when a double holds them exactly), case per
UTF-16 character in Java's lower and upper case, wildcards, and IP addresses and CIDR ranges walked
digit by digit."""

from __future__ import annotations

import ipaddress
import math
from decimal import Decimal
from functools import lru_cache
from typing import Any

from sandbox.patterns.shared import (
    HEX_DIGITS,
    IPV4_TEXT,
    IPV6_TEXT,
    MASK_TEXT,
    Matcher,
    is_number,
    java_split,
    number_text,
)


def comparable(value: Any) -> float | None:
    """The double a JSON number stands for, if it stands for one exactly (Ruler's ComparableNumber)."""
    if isinstance(value, bool):
        return None
    if isinstance(value, float):
        return value if math.isfinite(value) else None
    if isinstance(value, int):
        if -(2**53) <= value <= 2**53:
            return float(value)
        try:
            number = float(value)
        except OverflowError:
            return None
        # Ruler accepts an integer whose shortest double text (Java's Double.toString) equals it.
        return number if math.isfinite(number) and Decimal(repr(number)) == value else None
    return None


def number_equal(alternative: int | float, value: Any) -> bool:
    if not is_number(value):
        return False
    left, right = comparable(alternative), comparable(value)
    if left is not None and right is not None:
        return left == right  # 5 == 5.0 == 5e0, but never "5" or true
    # Numbers no double holds exactly match only the same number (Ruler compares their text).
    return left is None and right is None and type(alternative) is type(value) and alternative == value


@lru_cache(maxsize=1024)
def case_units(text: str) -> tuple[tuple[str, ...], ...]:
    """Per UTF-16 unit of `text`, the strings it matches: its Java Locale.ROOT lower and upper case."""
    units: list[tuple[str, ...]] = []
    for char in text:
        if ord(char) > 0xFFFF or 0xD800 <= ord(char) <= 0xDFFF:
            # Java takes each surrogate half alone, and encodes a lone surrogate to UTF-8 as "?".
            units.extend([("?",)] * (2 if ord(char) > 0xFFFF else 1))
            continue
        lower, upper = char.lower(), char.upper()
        units.append((lower,) if lower == upper else (lower, upper))
    return tuple(units)


def reversed_units(units: tuple[tuple[str, ...], ...]) -> tuple[tuple[str, ...], ...]:
    return tuple(tuple(option[::-1] for option in unit) for unit in reversed(units))


def _case_positions(units: tuple[tuple[str, ...], ...], value: str) -> set[int]:
    positions = {0}
    for unit in units:
        positions = {
            position + len(option)
            for position in positions
            for option in unit
            if value.startswith(option, position)
        }
        if not positions:
            break
    return positions


def case_equal(units: tuple[tuple[str, ...], ...], value: str) -> bool:
    return len(value) in _case_positions(units, value)


def case_prefix(units: tuple[tuple[str, ...], ...], value: str) -> bool:
    return bool(_case_positions(units, value))


def wildcard_match(segments: tuple[str, ...], value: str) -> bool:
    if len(segments) == 1:
        return value == segments[0]
    # Anchored first and last literals, then each middle literal at its leftmost place: linear-time,
    # unlike a regex of ".*" runs, which backtracks badly on long values.
    first, *middle, last = segments
    if len(value) < len(first) + len(last) or not value.startswith(first) or not value.endswith(last):
        return False
    position, end = len(first), len(value) - len(last)
    for literal in middle:
        found = value.find(literal, position, end)
        if found < 0:
            return False
        position = found + len(literal)
    return True


@lru_cache(maxsize=1024)
def wildcard_segments(text: str) -> tuple[str, ...]:
    """The literal runs between unescaped '*'; Ruler's rules: '\\*' and '\\\\' escape, '**' is refused."""
    segments: list[str] = []
    current: list[str] = []
    index = 0
    while index < len(text):
        char = text[index]
        if char == "*":
            if text.startswith("**", index):
                raise ValueError(f"consecutive '*' at position {index}")
            segments.append("".join(current))
            current = []
        elif char == "\\":
            following = text[index + 1 : index + 2]
            if following not in ("*", "\\"):
                raise ValueError(f"'\\' at position {index} may only escape '*' or '\\'")
            current.append(following)
            index += 1
        else:
            current.append(char)
        index += 1
    segments.append("".join(current))
    return tuple(segments)


@lru_cache(maxsize=1024)
def _ip_bytes(text: str) -> bytes | None:
    """The address Java's InetAddress reads from an IP literal Ruler recognises, else None."""
    if IPV4_TEXT.fullmatch(text):
        octets = [int(part) for part in text.split(".")]  # leading zeros are decimal, as in Java
        return bytes(octets) if all(octet <= 255 for octet in octets) else None
    if IPV6_TEXT.fullmatch(text):
        try:
            address = ipaddress.IPv6Address(text)
        except ValueError:
            return None
        mapped = address.ipv4_mapped  # Java hands IPv4-mapped addresses back as IPv4
        return mapped.packed if mapped is not None else address.packed
    return None


def ip_hex(text: str) -> str | None:
    packed = _ip_bytes(text)
    return None if packed is None else packed.hex().upper()


def single_address_range(address: str) -> tuple[str, bool, str, bool]:
    """Ruler's range for one address: [a, a+1) on the last hex digit, or (a-1, a] when it is F."""
    last = int(address[-1], 16)
    if last == 15:
        return f"{address[:-1]}E", True, address, False
    return address, False, f"{address[:-1]}{last + 1:X}", True


@lru_cache(maxsize=256)
def cidr_range(cidr: str) -> tuple[str, bool, str, bool]:
    """Ruler's CIDR.cidr: a closed range of hex digits; raises ValueError with Ruler's reason."""
    parts = java_split(cidr, "/")
    if len(parts) != 2:
        raise ValueError("one '/' and a mask are required")
    if not MASK_TEXT.fullmatch(parts[1]) or not -(2**31) <= int(parts[1]) < 2**31:
        raise ValueError("the mask bits must be an integer")
    bits = int(parts[1])
    if bits < 0:
        raise ValueError("the mask bits must not be negative")
    packed = _ip_bytes(parts[0])
    if packed is None:
        raise ValueError(f"{parts[0]!r} is not an IP address")
    width = len(packed) * 8
    if bits >= width:
        raise ValueError(f"{'IPv4' if width == 32 else 'IPv6'} mask bits must be < {width}")
    number = int.from_bytes(packed, "big")
    free = (1 << (width - bits)) - 1
    digits = width // 4
    return f"{number & ~free:0{digits}X}", False, f"{number | free:0{digits}X}", False


def range_matcher(bottom: str, bottom_open: bool, top: str, top_open: bool, numeric_path: bool) -> Matcher:
    def match(value: Any) -> bool:
        if isinstance(value, str):
            address = ip_hex(value)
            return address is not None and _range_hit(address, bottom, bottom_open, top, top_open)
        if is_number(value) and not (numeric_path and comparable(value) is not None):
            # Ruler walks a number's text through the address range as if it were hex digits.
            return _range_hit(number_text(value), bottom, bottom_open, top, top_open)
        return False

    return match


def _range_hit(digits: str, bottom: str, bottom_open: bool, top: str, top_open: bool) -> bool:
    """Ruler's byte-machine walk of a digit range: it matches as soon as the digits so far are known
    to be inside, so a shorter or longer address is judged on its leading digits."""
    on_bottom = on_top = True
    last = len(bottom) - 1
    for index, digit in enumerate(digits[: last + 1]):
        if digit not in HEX_DIGITS:
            return False
        if on_bottom:
            if digit < bottom[index]:
                return False
            on_bottom = digit == bottom[index]
        if on_top:
            if digit > top[index]:
                return False
            on_top = digit == top[index]
        if not on_bottom and not on_top:
            return True
        if index == last:
            return not (on_bottom and bottom_open) and not (on_top and top_open)
    return False
