//! Service items and cases: an operator registers its department's item
//! with its materials through the form and reads it back; a case the
//! department's case system opened is listed with the licence-use records
//! it left; another department sees none of its cases.

use tongban_service::{CaseQuery, samples};

use super::Console;
use crate::admin::Tokens;
use crate::{business_licence, each_served};

#[tokio::test]
async fn items_are_registered_and_cases_show_their_licence_uses() {
    each_served(
        "http_console_items",
        |_| {},
        |served| async move {
            let test = "items_are_registered_and_cases_show_their_licence_uses";
            let Some(console) = Console::open(&served, test).await else {
                return served;
            };
            let tokens = Tokens::make(&served).await;
            console.sign_in(&tokens.civil).await;
            console.go("/items").await;
            console
                .type_into("#item-form [name='code']", "440114-MZ-0301")
                .await;
            console
                .type_into("#item-form [name='name']", "养老服务机构备案")
                .await;
            let materials = format!(
                "营业执照|{}\n机构章程\n消防验收意见书||可选",
                samples::BUSINESS_LICENCE_TYPE
            );
            console
                .type_into("#item-form [name='materials']", &materials)
                .await;
            // A promise longer than the law allows: refused, next to the field.
            console
                .type_into("#item-form [name='promisedLimitDays']", "30")
                .await;
            console.click("#item-submit").await;
            let refused = console
                .wait("#item-form [data-error-for]:not([hidden])")
                .await
                .text()
                .await
                .unwrap();
            assert!(
                refused.contains("LIMIT") || refused.contains("INVALID"),
                "{refused}"
            );
            console
                .type_into("#item-form [name='promisedLimitDays']", "10")
                .await;
            console.click("#item-submit").await;
            console.text_with("main .notice", "已登记").await;
            let item = served.hub.item_show("440114-MZ-0301").await.unwrap();
            assert_eq!(item.department, samples::CIVIL_AFFAIRS);
            assert_eq!(item.materials.len(), 3);
            assert!(!item.materials[2].required);
            console.click("a[href='#/items/440114-MZ-0301']").await;
            console.text_with("main table", "消防验收意见书").await;
            console.screenshot("item").await;

            // A case of that item asks for the company's licences.
            business_licence(&served.hub, None).await;
            served
                .hub
                .case_licences(
                    samples::CIVIL_AFFAIRS,
                    &CaseQuery {
                        case_id: "HD-MZ-2026-000042".into(),
                        item: "440114-MZ-0301".into(),
                        holder_code_type: "001".into(),
                        holder_code: samples::COMPANY_CODE.into(),
                        use_cause: "养老服务机构备案，核验营业执照".into(),
                    },
                )
                .await
                .unwrap();
            console.go("/cases").await;
            console.click("a[href*='HD-MZ-2026-000042']").await;
            let uses = console
                .text_with("#case-uses", "养老服务机构备案，核验营业执照")
                .await;
            assert!(uses.contains(samples::CIVIL_AFFAIRS), "{uses}");
            console.screenshot("case").await;
            console.sign_out().await;

            // The market bureau has no such case.
            console.sign_in(&tokens.market).await;
            console.go("/cases").await;
            console.text_with("main table", "没有记录").await;
            console
                .go(&format!(
                    "/cases/{}/HD-MZ-2026-000042",
                    samples::CIVIL_AFFAIRS
                ))
                .await;
            console.text_with("main", "FORBIDDEN").await;
            console.close().await;
            served
        },
    )
    .await;
}
