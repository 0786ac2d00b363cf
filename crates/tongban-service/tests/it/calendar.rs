//! The working-day calendar in force: the shipped years, a year loaded
//! (audited, replacing a shipped one), bad years refused with nothing
//! written, and deadlines that reach into a loaded year.

use time::macros::date;

use crate::each_backend;

/// A made-up 2027 for the tests (not the national one).
const Y2027: &str = r#"{"year": 2027, "source": "test calendar", "holidays": [
    {"name": "元旦", "from": "2027-01-01", "to": "2027-01-03"}],
    "workdays": [{"date": "2027-01-09", "name": "元旦"}]}"#;

#[tokio::test]
async fn years_are_loaded_and_replace_the_shipped_ones() {
    each_backend("svc_calendar", |hub| async move {
        let years = hub.calendar_years().await.unwrap();
        let shipped: Vec<(i32, &str)> = years.iter().map(|y| (y.year, y.origin)).collect();
        assert_eq!(shipped, [(2025, "shipped"), (2026, "shipped")]);
        // A deadline into a year not loaded is refused.
        let calendar = hub.calendar().await.unwrap();
        let missing = calendar.add_working_days(date!(2026 - 12 - 28), 5).unwrap_err();
        assert_eq!(tongban_service::Error::from(missing).code(), "CALENDAR_YEAR_MISSING");

        let before = hub.store().audit_head().await.unwrap().0;
        for (bad, code) in [
            ("{", "CALENDAR_INVALID"),
            (
                r#"{"year": 2027, "source": "x", "holidays": [{"name": "a", "from": "2027-01-01", "to": "2027-01-02"}, {"name": "b", "from": "2027-01-02", "to": "2027-01-02"}], "workdays": []}"#,
                "CALENDAR_OVERLAP",
            ),
            (
                r#"{"year": 2027, "source": "x", "holidays": [], "workdays": [{"date": "2027-01-04", "name": "a"}]}"#,
                "CALENDAR_INVALID",
            ),
        ] {
            assert_eq!(hub.calendar_load(bad).await.unwrap_err().code(), code, "{bad}");
        }
        assert_eq!(hub.store().audit_head().await.unwrap().0, before, "a refusal wrote");

        let loaded = hub
            .clone()
            .with_operator("王敏")
            .calendar_load(Y2027)
            .await
            .unwrap();
        assert_eq!(loaded.year, 2027);
        let calendar = hub.calendar().await.unwrap();
        // 12-28 (Mon) → 29, 30, 31, then 1–3 January off, the 4th, 5th.
        assert_eq!(
            calendar.add_working_days(date!(2026 - 12 - 28), 5),
            Ok(date!(2027 - 01 - 05))
        );
        assert_eq!(calendar.is_working_day(date!(2027 - 01 - 09)), Ok(true));
        let entries = hub.store().audit_of("2027", 5).await.unwrap();
        assert_eq!(entries[0].action, "calendar.load");
        assert_eq!(entries[0].actor, "王敏");

        // A correction of a shipped year replaces it.
        let corrected = tongban_supervision::CalendarYear::shipped()
            .into_iter()
            .find(|y| y.year == 2026)
            .unwrap();
        let mut corrected = corrected;
        corrected.source = "corrected".into();
        corrected.workdays.pop();
        hub.calendar_load(&serde_json::to_string(&corrected).unwrap())
            .await
            .unwrap();
        let years = hub.calendar_years().await.unwrap();
        let origins: Vec<(i32, &str)> = years.iter().map(|y| (y.year, y.origin)).collect();
        assert_eq!(origins, [(2025, "shipped"), (2026, "loaded"), (2027, "loaded")]);
        assert_eq!(years[1].calendar.source, "corrected");
        // 2026-10-10 is no longer worked.
        assert_eq!(
            hub.calendar().await.unwrap().is_working_day(date!(2026 - 10 - 10)),
            Ok(false)
        );
    })
    .await;
}
