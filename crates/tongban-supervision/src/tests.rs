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

mod lifecycle {
    use time::macros::datetime;
    use time::{Duration, OffsetDateTime};

    use crate::lifecycle::{CaseResult, standing, timing};
    use crate::{Event, EventKind, Lifecycle, Phase, Standing, Thresholds, WorkCalendar};

    fn at(t: OffsetDateTime, kind: EventKind) -> Event {
        Event { at: t, kind }
    }

    fn reason(r: &str) -> String {
        r.to_owned()
    }

    #[test]
    fn events_follow_the_case_or_are_refused_without_change() {
        let mut life = Lifecycle::new();
        let t0 = datetime!(2026-03-02 09:00 +8);
        // Nothing before acceptance but acceptance, refusal or withdrawal.
        for kind in [
            EventKind::CorrectionDone {},
            EventKind::Concluded {
                result: CaseResult::Approved,
            },
            EventKind::Evaluated {
                satisfied: true,
                reasons: vec![],
            },
        ] {
            let e = life.apply(at(t0, kind)).unwrap_err();
            assert_eq!(e.code(), "CASE_EVENT_OUT_OF_ORDER");
        }
        assert_eq!(life.phase(), Phase::Received);
        assert!(life.events().is_empty());
        assert_eq!(
            life.apply(at(t0, EventKind::Accepted {})),
            Ok(Phase::Running)
        );
        // Not twice; not earlier than the last event.
        assert!(life.apply(at(t0, EventKind::Accepted {})).is_err());
        let before = life.apply(at(
            t0 - Duration::hours(1),
            EventKind::CorrectionAsked {
                reason: reason("缺身份证复印件"),
            },
        ));
        assert_eq!(before.unwrap_err().code(), "CASE_EVENT_OUT_OF_ORDER");
        // An empty reason, a bound of 0 days: not well formed.
        let empty = life.apply(at(
            t0,
            EventKind::CorrectionAsked {
                reason: String::new(),
            },
        ));
        assert_eq!(empty.unwrap_err().code(), "CASE_EVENT_INVALID");
        let unbounded = life.apply(at(
            t0,
            EventKind::SpecialStarted {
                reason: reason("听证"),
                bound_days: 0,
            },
        ));
        assert_eq!(unbounded.unwrap_err().code(), "CASE_EVENT_INVALID");
        assert_eq!(life.events().len(), 1);
    }

    #[test]
    fn one_evaluation_follows_the_end_and_a_bad_one_says_why() {
        let t0 = datetime!(2026-03-02 09:00 +8);
        let mut life = Lifecycle::replay([
            at(t0, EventKind::Accepted {}),
            at(
                t0 + Duration::days(1),
                EventKind::Concluded {
                    result: CaseResult::Approved,
                },
            ),
        ])
        .unwrap();
        let bare = life.apply(at(
            t0 + Duration::days(2),
            EventKind::Evaluated {
                satisfied: false,
                reasons: vec![],
            },
        ));
        assert_eq!(bare.unwrap_err().code(), "CASE_EVENT_INVALID");
        life.apply(at(
            t0 + Duration::days(2),
            EventKind::Evaluated {
                satisfied: false,
                reasons: vec![reason("等候时间长")],
            },
        ))
        .unwrap();
        assert!(
            life.apply(at(
                t0 + Duration::days(3),
                EventKind::Evaluated {
                    satisfied: true,
                    reasons: vec![]
                }
            ))
            .is_err()
        );
        assert!(
            life.apply(at(
                t0 + Duration::days(3),
                EventKind::Withdrawn {
                    reason: reason("x")
                }
            ))
            .is_err()
        );
        assert_eq!(life.phase(), Phase::Concluded);
    }

    #[test]
    fn the_clock_starts_the_next_day_and_stands_while_correcting() {
        let calendar = WorkCalendar::shipped();
        // Accepted Monday 2026-03-02 15:00: nothing counts that day.
        let accepted = datetime!(2026-03-02 15:00 +8);
        let mut life = Lifecycle::new();
        life.apply(at(accepted, EventKind::Accepted {})).unwrap();
        assert_eq!(
            life.elapsed(&calendar, datetime!(2026-03-02 23:00 +8)),
            Ok(Duration::ZERO)
        );
        // Tuesday and Wednesday run; a correction asked Thursday 00:00
        // stands over Thursday and Friday; resumed Monday 00:00.
        life.apply(at(
            datetime!(2026-03-05 00:00 +8),
            EventKind::CorrectionAsked {
                reason: reason("缺材料"),
            },
        ))
        .unwrap();
        life.apply(at(
            datetime!(2026-03-09 00:00 +8),
            EventKind::CorrectionDone {},
        ))
        .unwrap();
        // Up to Tuesday 12:00: Tue, Wed, Mon, half of Tue.
        let elapsed = life
            .elapsed(&calendar, datetime!(2026-03-10 12:00 +8))
            .unwrap();
        assert_eq!(elapsed, Duration::hours(3 * 24 + 12));
        let t = timing(
            &life,
            &calendar,
            datetime!(2026-03-10 12:00 +8),
            5,
            20,
            Thresholds::default(),
        )
        .unwrap();
        assert_eq!(t.standing, Standing::InTime);
        assert!((t.elapsed_days - 3.5).abs() < 1e-9);
        // At 4 of 5 promised days it is warned, past 5 overdue.
        let t = timing(
            &life,
            &calendar,
            datetime!(2026-03-11 00:00 +8),
            5,
            20,
            Thresholds::default(),
        )
        .unwrap();
        assert_eq!(t.standing, Standing::Warned);
        let t = timing(
            &life,
            &calendar,
            datetime!(2026-03-12 00:01 +8),
            5,
            20,
            Thresholds::default(),
        )
        .unwrap();
        assert_eq!(t.standing, Standing::Overdue);
    }

    #[test]
    fn holidays_do_not_run_the_clock() {
        let calendar = WorkCalendar::shipped();
        // Accepted Thursday 2026-02-12: Friday the 13th and Saturday the
        // 14th (worked) run; 春节 does not; by the 25th, 2 more days.
        let mut life = Lifecycle::new();
        life.apply(at(datetime!(2026-02-12 10:00 +8), EventKind::Accepted {}))
            .unwrap();
        let elapsed = life
            .elapsed(&calendar, datetime!(2026-02-26 00:00 +8))
            .unwrap();
        assert_eq!(elapsed, Duration::days(4));
        life.apply(at(
            datetime!(2026-02-26 00:00 +8),
            EventKind::Concluded {
                result: CaseResult::Approved,
            },
        ))
        .unwrap();
        // Concluded: it no longer runs.
        assert_eq!(
            life.elapsed(&calendar, datetime!(2026-06-01 00:00 +8)),
            Ok(Duration::days(4))
        );
    }

    #[test]
    fn standing_by_threshold() {
        let day = Duration::days(1);
        let t = Thresholds { warn_percent: 80 };
        assert_eq!(standing(day * 3, 5, 20, t), Standing::InTime);
        assert_eq!(standing(day * 4, 5, 20, t), Standing::Warned);
        assert_eq!(standing(day * 5, 5, 20, t), Standing::Warned);
        assert_eq!(
            standing(day * 5 + Duration::MINUTE, 5, 20, t),
            Standing::Overdue
        );
        assert_eq!(standing(day * 21, 5, 20, t), Standing::OverLegal);
        // 即办件: in time on its day, late after.
        assert_eq!(standing(Duration::ZERO, 0, 0, t), Standing::InTime);
        assert_eq!(standing(Duration::MINUTE, 0, 0, t), Standing::OverLegal);
    }

    #[test]
    fn events_read_as_their_case_systems_write_them() {
        let e: EventKind = serde_json::from_str(
            r#"{"event": "special-started", "reason": "专家评审", "boundDays": 10}"#,
        )
        .unwrap();
        assert_eq!(
            e,
            EventKind::SpecialStarted {
                reason: "专家评审".into(),
                bound_days: 10
            }
        );
        let c: EventKind =
            serde_json::from_str(r#"{"event": "concluded", "result": "approved"}"#).unwrap();
        assert_eq!(
            c,
            EventKind::Concluded {
                result: CaseResult::Approved
            }
        );
        assert!(serde_json::from_str::<EventKind>(r#"{"event": "accepted", "extra": 1}"#).is_err());
        assert!(serde_json::from_str::<EventKind>(r#"{"event": "teleported"}"#).is_err());
    }
}
