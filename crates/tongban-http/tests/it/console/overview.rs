//! The overview, as an auditor sees it: licences issued and read today
//! (China time), licences by status, and the refusals by code drawn as an
//! SVG bar chart, longest bar for the most frequent code.

use tongban_service::samples;
use tongban_store::RefusalCount;

use super::Console;
use crate::admin::Tokens;
use crate::{business_licence, each_served};

#[tokio::test]
async fn the_overview_counts_today_and_charts_refusals() {
    each_served(
        "http_console_overview",
        |_| {},
        |served| async move {
            let test = "the_overview_counts_today_and_charts_refusals";
            let Some(console) = Console::open(&served, test).await else {
                return served;
            };
            let tokens = Tokens::make(&served).await;
            let licence = business_licence(&served.hub, None).await;
            let id = licence["licence"]["identifier"].as_str().unwrap();
            business_licence(&served.hub, None).await;
            let read = tongban_service::Query {
                requester: samples::CIVIL_AFFAIRS.into(),
                use_cause: "核验".into(),
                case_ref: None,
            };
            served.hub.show(id, &read).await.unwrap();
            served.hub.suspend(id, "admin", "核查").await.unwrap();
            let day = tongban_seal::timefmt::format_rfc3339(served.hub.now())[..10].to_owned();
            let refusal = |code: &str, count: u64| RefusalCount {
                day: day.clone(),
                department: samples::MARKET.into(),
                resource: "business-registration".into(),
                code: code.into(),
                count,
            };
            served
                .hub
                .store()
                .add_refusals(&[refusal("SIGNATURE_INVALID", 7), refusal("ACCESS_DENIED", 2)])
                .await
                .unwrap();

            console.sign_in(&tokens.auditor).await;
            console.go("/overview").await;
            for (id, value) in [
                ("card-issued-today", "2"),
                ("card-used-today", "1"),
                ("card-valid", "1"),
                ("card-suspended", "1"),
            ] {
                assert_eq!(console.text(&format!("#{id} .value")).await, value, "{id}");
            }
            // The chart: one bar per code, the longer for the more frequent.
            let widths = console
                .client
                .execute(
                    "return [...document.querySelectorAll('figure.chart rect.bar')]
                        .map(r => Number(r.getAttribute('width')));",
                    vec![],
                )
                .await
                .unwrap();
            let widths: Vec<f64> = serde_json::from_value(widths).unwrap();
            assert_eq!(widths.len(), 2, "{widths:?}");
            assert!(widths[0] > widths[1] * 3.0, "{widths:?}");
            let chart = console.text("figure.chart").await;
            assert!(
                chart.contains("SIGNATURE_INVALID") && chart.contains('7'),
                "{chart}"
            );
            console.screenshot("overview").await;
            console.close().await;
            served
        },
    )
    .await;
}
