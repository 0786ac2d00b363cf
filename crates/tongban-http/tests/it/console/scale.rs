//! The console over a catalogue of 100,000 resources: search in Chinese,
//! filters and pages answer from the server a page at a time, and a page
//! past what a search shows is refused with its code, never a hang.

use std::time::{Duration, Instant};

use tongban_service::samples;
use tongban_store::{CatalogueEntry, CatalogueField};

use super::Console;
use crate::admin::Tokens;
use crate::each_served;

const RESOURCES: usize = 100_000;

const SUBJECTS: &[&str] = &[
    "营业执照",
    "婚姻登记",
    "不动产登记",
    "社会保险参保",
    "食品经营许可",
    "残疾人证",
    "住房公积金",
    "最低生活保障",
    "排污许可",
    "教师资格",
];
const PLACES: &[&str] = &[
    "新华街道",
    "秀全街道",
    "新雅街道",
    "花城街道",
    "狮岭镇",
    "炭步镇",
];
const SHARING: &[&str] = &["unconditional", "conditional", "not-shared"];

fn entry(i: usize, now: time::OffsetDateTime) -> CatalogueEntry {
    let subject = SUBJECTS[i % SUBJECTS.len()];
    let place = PLACES[(i / SUBJECTS.len()) % PLACES.len()];
    CatalogueEntry {
        id: format!("res-{i:06}"),
        version: 1,
        name: format!("{place}{subject}信息（第{}号）", i + 1),
        description: format!("{place}办理{subject}业务形成的数据，按规定向有关部门共享。"),
        provider: samples::MARKET.to_owned(),
        region_code: samples::REGION.to_owned(),
        schema: "business-registration@1".into(),
        fields: vec![CatalogueField {
            name: "uscc".into(),
            label: "统一社会信用代码".into(),
        }],
        sharing_type: SHARING[i % SHARING.len()].to_owned(),
        update_frequency: "daily".into(),
        tags: vec![subject.to_owned(), place.to_owned()],
        status: "published".into(),
        created_at: now,
        updated_at: now,
    }
}

/// How long the console may take to show a page of results.
const PAGE_BUDGET: Duration = Duration::from_secs(5);

#[tokio::test]
async fn a_catalogue_of_100000_resources_is_searched_a_page_at_a_time() {
    each_served(
        "http_console_scale",
        |_| {},
        |served| async move {
            let test = "a_catalogue_of_100000_resources_is_searched_a_page_at_a_time";
            let Some(console) = Console::open(&served, test).await else {
                return served;
            };
            let now = served.hub.now();
            let started = Instant::now();
            for start in (0..RESOURCES).step_by(2_000) {
                let batch: Vec<CatalogueEntry> = (start..(start + 2_000).min(RESOURCES))
                    .map(|i| entry(i, now))
                    .collect();
                served
                    .hub
                    .store()
                    .put_catalogue_entries(&batch, &[])
                    .await
                    .unwrap();
            }
            eprintln!(
                "loaded {RESOURCES} resources in {:.1} s",
                started.elapsed().as_secs_f64()
            );
            let tokens = Tokens::make(&served).await;
            console.sign_in(&tokens.civil).await;

            // A Chinese search with a filter: one page of 20 from the server.
            let timed = Instant::now();
            console
                .go("/catalogue?q=花城街道 食品经营许可&sharing=conditional")
                .await;
            let page = console.text_with("#catalogue-results", "第 1 页").await;
            let first = timed.elapsed();
            assert!(
                page.contains("花城街道食品经营许可信息") && page.contains("有条件共享"),
                "{page}"
            );
            assert!(!page.contains("无条件共享"), "{page}");
            let rows = console
                .client
                .find_all(fantoccini::Locator::Css("#catalogue-results tbody tr"))
                .await
                .unwrap();
            assert_eq!(rows.len(), 20);
            console.screenshot("search-100000").await;
            // The next page.
            let timed = Instant::now();
            console
                .click("#catalogue-results .pager button:last-child")
                .await;
            console.text_with("#catalogue-results", "第 2 页").await;
            let second = timed.elapsed();
            eprintln!("first page {first:?}, second page {second:?}");
            assert!(
                first < PAGE_BUDGET && second < PAGE_BUDGET,
                "{first:?}, {second:?}"
            );

            // The whole catalogue, unfiltered: its first page, and a page
            // past what a list shows is refused with its code.
            console.go("/catalogue").await;
            console.text_with("#catalogue-results", "第 1 页").await;
            console.go("/catalogue?offset=99980").await;
            console
                .text_with("[data-error-for='q']", "REQUEST_INVALID")
                .await;
            console.close().await;
            served
        },
    )
    .await;
}
