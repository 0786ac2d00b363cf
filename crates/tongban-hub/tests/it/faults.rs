//! Bad input and faults: each refused with its code, nothing stored.
