//! Schemas: the list, and two versions of one side by side with each
//! change marked breaking or compatible, as the hub's diff says.

use serde_json::json;

use super::Console;
use crate::admin::Tokens;
use crate::each_served;

#[tokio::test]
async fn two_versions_are_compared_side_by_side_with_breaking_changes_marked() {
    each_served(
        "http_console_schemas",
        |_| {},
        |served| async move {
            let test = "two_versions_are_compared_side_by_side_with_breaking_changes_marked";
            let Some(console) = Console::open(&served, test).await else {
                return served;
            };
            let tokens = Tokens::make(&served).await;
            // Version 2 of a message: one field more that is required
            // (breaking), one that is optional (compatible).
            let id = "business-registration";
            let mut doc = served.hub.schema(id, Some("1")).await.unwrap().content;
            let mut v2: serde_json::Value = serde_json::from_str(&doc).unwrap();
            v2["$id"] = json!("https://schemas.tongban.dev/messages/business-registration/2");
            v2["x-message-type"]["version"] = json!("2");
            v2["properties"]["industryCode"] =
                json!({"title": "行业代码", "type": "string", "maxLength": 5});
            v2["properties"]["website"] =
                json!({"title": "网站", "type": "string", "maxLength": 200});
            v2["required"]
                .as_array_mut()
                .unwrap()
                .push(json!("industryCode"));
            served
                .hub
                .publish_schema("message", None, None, v2, true)
                .await
                .unwrap();
            doc.clear();

            console.sign_in(&tokens.market).await;
            console.go("/schemas?kind=message").await;
            console
                .text_with("main table", "新设市场主体登记信息")
                .await;
            console.go(&format!("/schemas/{id}")).await;
            // The newest two by default.
            let summary = console.text_with("#diff-summary", "破坏性").await;
            assert!(!summary.starts_with("共 0"), "{summary}");
            let row = |path: &str| format!("#schema-diff tr[data-path='{path}']");
            let industry = console.wait(&row("/industryCode")).await;
            assert_eq!(
                industry.attr("data-change").await.unwrap().as_deref(),
                Some("breaking")
            );
            let website = console.wait(&row("/website")).await;
            assert_eq!(
                website.attr("data-change").await.unwrap().as_deref(),
                Some("compatible")
            );
            let same = console.wait(&row("/uscc")).await;
            assert_eq!(
                same.attr("data-change").await.unwrap().as_deref(),
                Some("same")
            );
            // Side by side: absent on the left, defined on the right.
            let text = industry.text().await.unwrap();
            assert!(text.contains("—") && text.contains("行业代码"), "{text}");
            console.screenshot("schema-diff").await;

            // The same version twice: nothing changed.
            console.go(&format!("/schemas/{id}?from=2&to=2")).await;
            console.text_with("#diff-summary", "共 0 处变更").await;
            console.close().await;
            served
        },
    )
    .await;
}
