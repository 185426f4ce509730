"""Protocol declarations: they agree with the drivers they describe, and their text forms refuse
bad values with one line."""

from __future__ import annotations

import inspect

import pytest

from instruments import registry
from instruments.protocol_spec import OptionError
from instruments.transport import MemoryTransport

#: declared defaults that differ from the driver's own, and why
DIFFERENT_DEFAULTS = {
    # the driver picks the second field when a line has two or more, else the only one; the dialog offers
    # the second column, which is the same choice for every line with a time stamp
    ("line", "frequency_column"),
}


@pytest.mark.parametrize("protocol", registry.protocol_names())
def test_every_declared_option_is_a_keyword_of_the_driver(protocol: str) -> None:
    spec = registry.protocol_spec(protocol)
    parameters = inspect.signature(spec.driver.__init__).parameters
    for option in spec.options:
        parameter = parameters[option.name]
        assert parameter.kind is inspect.Parameter.KEYWORD_ONLY
        if (protocol, option.name) not in DIFFERENT_DEFAULTS:
            assert option.default == parameter.default, option.name
        assert option.check(option.default) == option.default
        assert option.parse(option.format(option.default)) == option.default
    driver = spec.driver(MemoryTransport(), **spec.defaults())  # the driver takes the declared defaults
    driver.close()


def test_the_registry_keeps_the_offered_order() -> None:
    assert registry.protocol_names() == ["sqm160", "sqc310", "stm100", "stm2", "tm400", "openqcm", "line"]
    assert registry.available_protocols() == registry.protocol_names()
    with pytest.raises(KeyError, match="unknown protocol 'nope'"):
        registry.protocol_spec("nope")


def test_a_registered_protocol_is_offered_until_unregistered(made_up_protocol: str) -> None:
    assert registry.protocol_names()[-1] == made_up_protocol
    assert made_up_protocol in registry.available_protocols()
    assert "madeup: rate_hz=1 to 500 Hz (default 10): samples per second" in registry.options_help()
    registry.unregister(made_up_protocol)
    assert made_up_protocol not in registry.protocol_names()


def test_text_forms_are_read_with_their_limits() -> None:
    line = registry.protocol_spec("line")
    assert line.parse_options(["delimiter=tab", "time_column=1", "frequency_column=3", "decimal_comma=yes"]) == {
        "delimiter": "\t",
        "time_column": 0,
        "frequency_column": 2,
        "decimal_comma": True,
    }
    assert line.parse_options(["time_column=none", "delimiter=;"]) == {"time_column": None, "delimiter": ";"}
    assert registry.protocol_spec("stm2").parse_options(["address=0x22"]) == {"address": 0x22}
    assert registry.protocol_spec("openqcm").parse_options(["gate_s=0.5"]) == {"gate_s": 0.5}


@pytest.mark.parametrize(
    ("protocol", "pairs", "message"),
    [
        ("tm400", ["address=33"], "address must be from 1 to 32, not 33"),
        ("tm400", ["address=1.5"], "address must be a whole number, not '1.5'"),
        ("stm2", ["address=0x0F"], "address must be from 16 to 254, not 15"),
        ("openqcm", ["gate_s=0"], "gate_s must be from 0.01 to 60, not 0"),
        ("openqcm", ["gate_s=inf"], "gate_s must be a finite number"),
        ("line", ["time_column=0"], "time_column must be from 1 to 32, not 0"),  # columns are typed from 1
        ("line", ["delimiter=pipe"], "delimiter must be one of auto, tab, comma, semicolon, space, whitespace"),
        ("line", ["decimal_comma=maybe"], "decimal_comma must be yes or no"),
        ("line", ["decimal_comma=yes", "delimiter=comma"], "With a decimal comma the delimiter cannot be a comma"),
        ("line", ["colour=red"], "line has no option 'colour' (its options: delimiter, frequency_column"),
        ("sqm160", ["address=1"], "sqm160 has no option 'address' (its options: none)"),
        ("line", ["delimiter"], "'delimiter' is not key=value"),
    ],
)
def test_bad_values_are_refused_with_one_line(protocol: str, pairs: list[str], message: str) -> None:
    with pytest.raises(OptionError) as caught:
        registry.protocol_spec(protocol).parse_options(pairs)
    assert message in str(caught.value) and "\n" not in str(caught.value)
