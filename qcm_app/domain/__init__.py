"""Pure domain code: physics, recipes, valve pulses, alarms, errors, typed enums."""
