//! Departments as the three-level tree; a region administrator registers
//! a village under a street (a bad code refused next to its field) and
//! suspends it after a confirmation; an operator sees the tree only.

use tongban_service::samples;
use tongban_store::DepartmentStatus;

use super::Console;
use crate::admin::Tokens;
use crate::each_served;

#[tokio::test]
async fn the_tree_has_three_levels_and_the_administrator_adds_and_suspends() {
    each_served(
        "http_console_departments",
        |_| {},
        |served| async move {
            let test = "the_tree_has_three_levels_and_the_administrator_adds_and_suspends";
            let Some(console) = Console::open(&served, test).await else {
                return served;
            };
            let tokens = Tokens::make(&served).await;
            console.sign_in(&tokens.admin).await;
            console.go("/departments").await;
            // District → street → village, nested as such.
            let nested = format!(
                "li[data-code='{}'] li[data-code='{}'] li[data-code='{}']",
                samples::DATA_BUREAU,
                samples::XINHUA_STREET,
                samples::SANDONG_VILLAGE
            );
            console.wait(&nested).await;
            console.screenshot("departments").await;

            // A code that is no USCC: refused by the hub, next to the field.
            let code = tongban_codes::synth::uscc('1', '1', "440114", 4242).unwrap();
            console
                .type_into("#department-form [name='code']", "11440114MB2C0042")
                .await;
            console
                .type_into(
                    "#department-form [name='name']",
                    "花都区新华街道三东村第二居民小组",
                )
                .await;
            console
                .type_into("#department-form [name='regionCode']", "440114")
                .await;
            console
                .wait("#department-form [name='platformLevel']")
                .await
                .select_by_value("village")
                .await
                .unwrap();
            console
                .wait("#department-form [name='parentCode']")
                .await
                .select_by_value(samples::XINHUA_STREET)
                .await
                .unwrap();
            console.click("#department-submit").await;
            console
                .text_with("[data-error-for='code']", "DEPARTMENT_CODE_INVALID")
                .await;
            assert!(served.hub.department(code.as_str()).await.is_err());

            console
                .type_into("#department-form [name='code']", code.as_str())
                .await;
            console.click("#department-submit").await;
            console.text_with("main .notice", "已登记").await;
            let added = format!(
                "li[data-code='{}'] li[data-code='{}']",
                samples::XINHUA_STREET,
                code.as_str()
            );
            console.wait(&added).await;
            let row = served.hub.department(code.as_str()).await.unwrap();
            assert_eq!(row.parent_code.as_deref(), Some(samples::XINHUA_STREET));

            // Escape from the confirmation: nothing happens.
            console
                .click(&format!("[data-suspend='{}']", code.as_str()))
                .await;
            console.wait("dialog.confirm[open]").await;
            console
                .client
                .active_element()
                .await
                .unwrap()
                .send_keys("\u{E00C}")
                .await
                .unwrap();
            tokio::time::sleep(std::time::Duration::from_millis(300)).await;
            assert!(
                !console.has("dialog.confirm[open]").await,
                "Escape left it open"
            );
            let row = served.hub.department(code.as_str()).await.unwrap();
            assert_eq!(row.status, DepartmentStatus::Active);

            // Suspend, after a confirmation that names it.
            console
                .click(&format!("[data-suspend='{}']", code.as_str()))
                .await;
            let asked = console.text("dialog.confirm[open] p").await;
            assert!(
                asked.contains(code.as_str()) && asked.contains("三东村第二居民小组"),
                "{asked}"
            );
            console.confirm(Some("撤并")).await;
            console
                .text_with(&format!("[data-status-of='{}']", code.as_str()), "已暂停")
                .await;
            let row = served.hub.department(code.as_str()).await.unwrap();
            assert_eq!(row.status, DepartmentStatus::Suspended);
            console.sign_out().await;

            // An operator reads the tree; no buttons, no form.
            console.sign_in(&tokens.market).await;
            console.go("/departments").await;
            console.wait(&nested).await;
            assert!(!console.has("[data-suspend]").await && !console.has("#department-form").await);
            console.close().await;
            served
        },
    )
    .await;
}
