//! Counting around the 2026 national calendar: holidays, make-up
//! Saturdays and Sundays, the day a period starts, years not loaded.

use proptest::prelude::*;
use time::Duration;
use time::macros::{date, datetime};

use crate::{CalendarError, CalendarYear, WorkCalendar};

fn calendar() -> WorkCalendar {
    WorkCalendar::shipped()
}

#[test]
fn the_shipped_years_are_the_published_ones() {
    let years = CalendarYear::shipped();
    assert_eq!(
        years.iter().map(|y| y.year).collect::<Vec<_>>(),
        [2025, 2026]
    );
    let y2026 = &years[1];
    let off: i64 = y2026
        .holidays
        .iter()
        .map(|h| (h.to - h.from).whole_days() + 1)
        .sum();
    // 3 + 9 + 3 + 5 + 3 + 3 + 7 days off, 6 Saturdays and Sundays worked.
    assert_eq!(off, 33);
    assert_eq!(y2026.workdays.len(), 6);
}

#[test]
fn holidays_are_off_and_make_up_weekends_are_worked() {
    let c = calendar();
    for (day, working) in [
        (date!(2026 - 01 - 01), false), // 元旦, a Thursday
        (date!(2026 - 01 - 02), false), // a Friday off
        (date!(2026 - 01 - 04), true),  // a Sunday worked
        (date!(2026 - 01 - 05), true),
        (date!(2026 - 01 - 10), false), // an ordinary Saturday
        (date!(2026 - 02 - 14), true),  // the Saturday before 春节
        (date!(2026 - 02 - 16), false), // 春节, a Monday
        (date!(2026 - 02 - 23), false),
        (date!(2026 - 02 - 24), true),
        (date!(2026 - 02 - 28), true), // the Saturday after
        (date!(2026 - 10 - 10), true),
        (date!(2026 - 10 - 07), false),
    ] {
        assert_eq!(c.is_working_day(day), Ok(working), "{day}");
    }
}

#[test]
fn a_limit_starts_the_day_after_and_skips_holidays() {
    let c = calendar();
    // Accepted on Friday 2026-02-13: the 14th (a Saturday worked) is day 1,
    // then nine days of 春节, the 24th is day 2.
    assert_eq!(
        c.add_working_days(date!(2026 - 02 - 13), 1),
        Ok(date!(2026 - 02 - 14))
    );
    assert_eq!(
        c.add_working_days(date!(2026 - 02 - 13), 2),
        Ok(date!(2026 - 02 - 24))
    );
    // Accepted on 2026-09-30: 10-01..07 off, the 8th (Thursday) and 9th,
    // the 10th (a Saturday worked), then Monday the 12th.
    assert_eq!(
        c.add_working_days(date!(2026 - 09 - 30), 4),
        Ok(date!(2026 - 10 - 12))
    );
    assert_eq!(
        c.add_working_days(date!(2026 - 09 - 30), 0),
        Ok(date!(2026 - 09 - 30))
    );
    // A 20-working-day limit across 春节: nine days to the 13th, the 14th
    // (worked), four to the 27th, the 28th (worked), five to 6 March.
    let end = c.add_working_days(date!(2026 - 02 - 02), 20).unwrap();
    assert_eq!(end, date!(2026 - 03 - 06));
    assert_eq!(c.working_days_between(date!(2026 - 02 - 02), end), Ok(20));
}

#[test]
fn the_deadline_is_the_end_of_the_last_day_in_china() {
    let c = calendar();
    // Accepted late on Friday 2026-01-30 UTC, already Saturday the 31st in
    // China: the period starts from Saturday, so Monday 2 February is day 1.
    let accepted = datetime!(2026-01-30 17:00 UTC);
    let due = c.deadline(accepted, 1).unwrap();
    assert_eq!(due, datetime!(2026-02-03 00:00 +8));
}

#[test]
fn working_time_counts_only_working_days() {
    let c = calendar();
    // From Friday 2026-02-13 12:00 to Tuesday the 24th 12:00 China time:
    // half of the 13th, all of the 14th (worked), half of the 24th.
    let t = c
        .working_time_between(
            datetime!(2026-02-13 12:00 +8),
            datetime!(2026-02-24 12:00 +8),
        )
        .unwrap();
    assert_eq!(t, Duration::hours(48));
    assert_eq!(
        c.working_time_between(
            datetime!(2026-02-24 12:00 +8),
            datetime!(2026-02-13 12:00 +8)
        ),
        Ok(Duration::ZERO)
    );
}

#[test]
fn a_year_not_loaded_is_refused_not_guessed() {
    let c = calendar();
    let e = c.add_working_days(date!(2026 - 12 - 28), 10).unwrap_err();
    assert_eq!(e, CalendarError::YearMissing(2027));
    assert_eq!(e.code(), "CALENDAR_YEAR_MISSING");
    assert_eq!(
        WorkCalendar::new()
            .is_working_day(date!(2026 - 03 - 02))
            .unwrap_err()
            .code(),
        "CALENDAR_YEAR_MISSING"
    );
}

fn year_with(holidays: &str, workdays: &str) -> String {
    format!(
        r#"{{"year": 2027, "source": "test", "holidays": [{holidays}], "workdays": [{workdays}]}}"#
    )
}

#[test]
fn bad_calendars_are_refused_with_their_codes() {
    let refused = |text: String| CalendarYear::from_json(&text).unwrap_err().code();
    // Overlapping holidays, a make-up day inside a holiday, a day twice.
    assert_eq!(
        refused(year_with(
            r#"{"name": "春节", "from": "2027-02-05", "to": "2027-02-11"}, {"name": "x", "from": "2027-02-11", "to": "2027-02-12"}"#,
            ""
        )),
        "CALENDAR_OVERLAP"
    );
    assert_eq!(
        refused(year_with(
            r#"{"name": "春节", "from": "2027-02-05", "to": "2027-02-11"}"#,
            r#"{"date": "2027-02-06", "name": "春节"}"#
        )),
        "CALENDAR_OVERLAP"
    );
    assert_eq!(
        refused(year_with(
            "",
            r#"{"date": "2027-02-06", "name": "a"}, {"date": "2027-02-06", "name": "b"}"#
        )),
        "CALENDAR_OVERLAP"
    );
    // Outside its year, backwards, a make-up day on a weekday, bad shape.
    for (holidays, workdays) in [
        (
            r#"{"name": "元旦", "from": "2026-12-31", "to": "2027-01-01"}"#,
            "",
        ),
        (
            r#"{"name": "元旦", "from": "2027-01-03", "to": "2027-01-01"}"#,
            "",
        ),
        ("", r#"{"date": "2027-02-08", "name": "春节"}"#),
        (
            r#"{"name": "元旦", "from": "2027-1-1", "to": "2027-01-01"}"#,
            "",
        ),
        (
            r#"{"name": "元旦", "from": "2027-01-01", "to": "2027-01-01", "extra": 1}"#,
            "",
        ),
        (
            r#"{"name": "", "from": "2027-01-01", "to": "2027-01-01"}"#,
            "",
        ),
    ] {
        assert_eq!(
            refused(year_with(holidays, workdays)),
            "CALENDAR_INVALID",
            "{holidays} {workdays}"
        );
    }
    assert!(
        CalendarYear::from_json(&year_with(
            r#"{"name": "元旦", "from": "2027-01-01", "to": "2027-01-01"}"#,
            r#"{"date": "2027-01-02", "name": "元旦"}"#
        ))
        .is_ok()
    );
}

proptest! {
    /// Adding n working days and counting them back agree, and the end is
    /// a working day (for n > 0).
    #[test]
    fn adding_and_counting_agree(offset in 0i64..600, n in 0u32..200) {
        let c = calendar();
        let start = date!(2025 - 01 - 01) + Duration::days(offset);
        match c.add_working_days(start, n) {
            Ok(end) => {
                prop_assert_eq!(c.working_days_between(start, end), Ok(n));
                if n > 0 {
                    prop_assert_eq!(c.is_working_day(end), Ok(true));
                }
            }
            Err(e) => prop_assert_eq!(e, CalendarError::YearMissing(2027)),
        }
    }
}
