//! Electronic supervision (电子监察) without IO: the working-day calendar
//! and time limits counted over it. The service layer keeps the data and
//! the clock; this crate only counts.
#![forbid(unsafe_code)]

pub mod calendar;

pub use calendar::{CalendarError, CalendarYear, WorkCalendar};

#[cfg(test)]
mod tests;
