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

mod hotline {
    use time::OffsetDateTime;
    use time::macros::datetime;

    use crate::WorkCalendar;
    use crate::hotline::{Actor, Card, Category, Limits, OrderPhase, Step, Taken, WorkOrder};

    const UNIT: &str = "11440114MB2C00007U";
    const OTHER: &str = "11440114MB2C00015N";

    fn by(actor: Actor, at: OffsetDateTime, step: Step) -> Taken {
        Taken {
            at,
            by: actor,
            step,
        }
    }

    fn office(at: OffsetDateTime, step: Step) -> Taken {
        by(Actor::Office, at, step)
    }

    fn unit(at: OffsetDateTime, step: Step) -> Taken {
        by(Actor::Unit(UNIT.into()), at, step)
    }

    fn dispatched() -> Step {
        Step::Dispatched {
            unit: UNIT.into(),
            manual: None,
        }
    }

    fn order() -> WorkOrder {
        let created = datetime!(2026-03-02 08:00 +8);
        WorkOrder::new(
            Category::Appeal,
            created,
            Limits::default_for(Category::Appeal),
        )
    }

    #[test]
    fn each_step_is_taken_by_its_side_in_order() {
        let t = datetime!(2026-03-02 09:00 +8);
        let mut o = order();
        // A unit dispatches nothing; nothing is signed before dispatch.
        assert_eq!(
            o.apply(unit(t, dispatched())).unwrap_err().code(),
            "ORDER_STEP_FORBIDDEN"
        );
        assert_eq!(
            o.apply(unit(t, Step::Signed {})).unwrap_err().code(),
            "ORDER_STEP_FORBIDDEN"
        );
        o.apply(office(t, dispatched())).unwrap();
        // Only the unit dispatched to signs; the office does not.
        let other = by(Actor::Unit(OTHER.into()), t, Step::Signed {});
        assert_eq!(o.apply(other).unwrap_err().code(), "ORDER_STEP_FORBIDDEN");
        assert_eq!(
            o.apply(office(t, Step::Signed {})).unwrap_err().code(),
            "ORDER_STEP_FORBIDDEN"
        );
        // Returned as misrouted: back to the office; a reply after it is refused.
        o.apply(unit(
            t,
            Step::Returned {
                reason: "不属于本单位职责".into(),
            },
        ))
        .unwrap();
        assert_eq!(o.phase(), OrderPhase::New);
        assert_eq!(o.unit(), None);
        let late = unit(
            t,
            Step::Replied {
                content: "已处理".into(),
            },
        );
        assert_eq!(o.apply(late).unwrap_err().code(), "ORDER_STEP_FORBIDDEN");
        // Dispatched again, signed, replied, called back, closed.
        o.apply(office(t, dispatched())).unwrap();
        o.apply(unit(t, Step::Signed {})).unwrap();
        assert_eq!(
            o.apply(office(t, Step::Closed {})).unwrap_err().code(),
            "ORDER_STEP_OUT_OF_ORDER"
        );
        o.apply(unit(
            t,
            Step::Replied {
                content: "已协调处理".into(),
            },
        ))
        .unwrap();
        // Reopened only after an unsatisfied call back.
        o.apply(office(t, Step::Visited { satisfied: true }))
            .unwrap();
        assert_eq!(
            o.apply(office(t, Step::Reopened { reason: "x".into() }))
                .unwrap_err()
                .code(),
            "ORDER_STEP_OUT_OF_ORDER"
        );
        assert_eq!(o.apply(office(t, Step::Closed {})), Ok(OrderPhase::Closed));
        // Nothing earlier than the last step.
        let mut o = order();
        let before = office(datetime!(2026-03-01 09:00 +8), dispatched());
        assert_eq!(
            o.apply(before).unwrap_err().code(),
            "ORDER_STEP_OUT_OF_ORDER"
        );
        assert!(o.steps().is_empty());
    }

    #[test]
    fn an_unsatisfied_citizen_reopens_the_order() {
        let t = datetime!(2026-03-02 09:00 +8);
        let mut o = order();
        for step in [
            office(t, dispatched()),
            unit(t, Step::Signed {}),
            unit(
                t,
                Step::Replied {
                    content: "已答复".into(),
                },
            ),
        ] {
            o.apply(step).unwrap();
        }
        o.apply(office(t, Step::Visited { satisfied: false }))
            .unwrap();
        assert_eq!(
            o.apply(office(
                t,
                Step::Reopened {
                    reason: "问题未解决".into()
                }
            )),
            Ok(OrderPhase::Handling)
        );
        o.apply(unit(
            t,
            Step::Replied {
                content: "已上门处理".into(),
            },
        ))
        .unwrap();
        assert_eq!(o.phase(), OrderPhase::Replied);
    }

    #[test]
    fn extensions_are_asked_once_decided_once_and_never_move_back() {
        let calendar = WorkCalendar::shipped();
        let t = datetime!(2026-03-02 09:00 +8);
        let mut o = order();
        o.apply(office(t, dispatched())).unwrap();
        o.apply(unit(t, Step::Signed {})).unwrap();
        // Five working days from Monday: the end of Monday the 9th.
        assert_eq!(
            o.reply_deadline(&calendar).unwrap(),
            Some(datetime!(2026-03-10 00:00 +8))
        );
        let undecided = office(t, Step::ExtensionDecided { granted: true });
        assert_eq!(
            o.apply(undecided).unwrap_err().code(),
            "ORDER_STEP_OUT_OF_ORDER"
        );
        let backwards = unit(
            t,
            Step::ExtensionAsked {
                days: 0,
                reason: "x".into(),
            },
        );
        assert_eq!(o.apply(backwards).unwrap_err().code(), "ORDER_STEP_INVALID");
        o.apply(unit(
            t,
            Step::ExtensionAsked {
                days: 3,
                reason: "需现场核查".into(),
            },
        ))
        .unwrap();
        let twice = unit(
            t,
            Step::ExtensionAsked {
                days: 3,
                reason: "x".into(),
            },
        );
        assert_eq!(
            o.apply(twice).unwrap_err().code(),
            "ORDER_STEP_OUT_OF_ORDER"
        );
        // The unit does not grant its own extension.
        let own = unit(t, Step::ExtensionDecided { granted: true });
        assert_eq!(o.apply(own).unwrap_err().code(), "ORDER_STEP_FORBIDDEN");
        o.apply(office(t, Step::ExtensionDecided { granted: true }))
            .unwrap();
        assert_eq!(
            o.reply_deadline(&calendar).unwrap(),
            Some(datetime!(2026-03-13 00:00 +8))
        );
    }

    #[test]
    fn missed_deadlines_earn_cards() {
        let calendar = WorkCalendar::shipped();
        let monday = datetime!(2026-03-02 09:00 +8);
        let signed_late = |replied: OffsetDateTime| {
            let mut o = order();
            o.apply(office(monday, dispatched())).unwrap();
            // Due by the end of Tuesday; signed on Wednesday.
            o.apply(unit(datetime!(2026-03-04 10:00 +8), Step::Signed {}))
                .unwrap();
            o.apply(unit(
                replied,
                Step::Replied {
                    content: "已办理".into(),
                },
            ))
            .unwrap();
            o.cards(&calendar, replied).unwrap()
        };
        // Reply due by the end of Wednesday the 11th.
        assert_eq!(signed_late(datetime!(2026-03-11 17:00 +8)), [Card::Yellow]);
        assert_eq!(
            signed_late(datetime!(2026-03-12 09:00 +8)),
            [Card::Yellow, Card::Yellow]
        );
        // Five working days after that deadline too: red.
        assert_eq!(
            signed_late(datetime!(2026-03-19 09:00 +8)),
            [Card::Yellow, Card::Red]
        );
        // On time: none; still unsigned past its deadline: yellow at once.
        let mut o = order();
        o.apply(office(monday, dispatched())).unwrap();
        assert!(
            o.cards(&calendar, datetime!(2026-03-03 23:00 +8))
                .unwrap()
                .is_empty()
        );
        assert_eq!(
            o.cards(&calendar, datetime!(2026-03-04 00:01 +8)).unwrap(),
            [Card::Yellow]
        );
        // Dispatched on Friday 13 February: the Saturday worked is the sign-for day.
        let mut o = WorkOrder::new(
            Category::Consultation,
            datetime!(2026-02-13 15:00 +8),
            Limits::default_for(Category::Consultation),
        );
        o.apply(office(datetime!(2026-02-13 16:00 +8), dispatched()))
            .unwrap();
        assert_eq!(
            o.sign_deadline(&calendar).unwrap(),
            Some(datetime!(2026-02-15 00:00 +8))
        );
    }

    #[test]
    fn an_order_is_routed_by_the_most_specific_rule() {
        use crate::hotline::{Route, route_for};
        let rule = |category: Option<Category>, area: &str, unit: &str| Route {
            category,
            area: area.into(),
            unit: unit.into(),
        };
        let routes = [
            rule(None, "", "any"),
            rule(None, "4401", "city"),
            rule(Some(Category::ConsumerComplaint), "4401", "city-market"),
            rule(None, "440114", "district"),
            rule(Some(Category::EconomicReport), "", "economic"),
            rule(Some(Category::Appeal), "新华街道", "street"),
        ];
        let check = |category: Category, area: Option<&str>, expect: &str| {
            let got = route_for(&routes, category, area).map(|r| r.unit.as_str());
            assert_eq!(got, Some(expect), "{category:?} {area:?}");
        };
        // The longest area prefix wins, whatever the category.
        check(Category::ConsumerComplaint, Some("440114"), "district");
        // As long a prefix: the category's own rule first.
        check(Category::ConsumerComplaint, Some("440105"), "city-market");
        check(Category::Appeal, Some("440105"), "city");
        // A place's name is a prefix too, for its category only.
        check(Category::Appeal, Some("新华街道迎宾大道"), "street");
        check(Category::Suggestion, Some("新华街道迎宾大道"), "any");
        // No area: only rules for every area cover it.
        check(Category::EconomicReport, None, "economic");
        check(Category::Consultation, None, "any");
        check(Category::Consultation, Some("441802"), "any");
        // No rule covers it: none.
        assert_eq!(
            route_for(&routes[1..3], Category::Appeal, Some("441802")),
            None
        );
        assert_eq!(route_for(&[], Category::Appeal, Some("440114")), None);
    }
}
