//! Electronic supervision (电子监察) without IO: the working-day calendar,
//! time limits counted over it, a case's lifecycle and standing against its
//! limits, and 12345 work orders with their deadlines and cards. The service layer keeps the data and
//! the clock; this crate only counts.
#![forbid(unsafe_code)]

pub mod calendar;
pub mod hotline;
pub mod lifecycle;

pub use calendar::{CalendarError, CalendarYear, WorkCalendar};
pub use lifecycle::{
    Event, EventKind, Lifecycle, LifecycleError, Phase, Standing, Thresholds, Timing,
};

#[cfg(test)]
mod tests;
