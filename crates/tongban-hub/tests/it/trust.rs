//! The region's trust list over the exchange.

use tongban_seal::PublicKey;

use crate::{CIVIL, MARKET, TestHub, fast_config};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_trust_list_is_served_signed_and_checks_against_the_anchor() {
    crate::each_backend(
        "the_trust_list_is_served_signed_and_checks_against_the_anchor",
        fast_config(),
        the_trust_list_is_served_signed_and_checks_against_the_anchor_on,
    )
    .await;
}

async fn the_trust_list_is_served_signed_and_checks_against_the_anchor_on(t: TestHub) {
    let civil = t.client(CIVIL).await;
    let list = civil.trust_list().await.unwrap();
    let anchor = PublicKey::from_multikey(&t.hub.identity().await.unwrap().anchor).unwrap();
    let now = time::OffsetDateTime::now_utc();
    tongban_licence::trustfile::load(&list, &anchor, now).unwrap();
    let text = list.to_string();
    assert!(text.contains(&format!("urn:uscc:{MARKET}")), "{text}");
    // A tampered copy does not check; neither does it against another key.
    let mut tampered = list.clone();
    tampered["validUntil"] = "2099-01-01T00:00:00Z".into();
    assert!(tongban_licence::trustfile::load(&tampered, &anchor, now).is_err());
    let stranger = tongban_seal::SigningKey::generate().unwrap().public();
    assert!(tongban_licence::trustfile::load(&list, &stranger, now).is_err());
    // Past its expiry it is stale, never silently used.
    let later = now + time::Duration::days(30);
    assert_eq!(
        tongban_licence::trustfile::load(&list, &anchor, later)
            .unwrap_err()
            .code(),
        "TRUST_FILE_STALE"
    );
    // Built once a minute whoever asks: the next fetch is the same list.
    let market = t.client(MARKET).await;
    assert_eq!(market.trust_list().await.unwrap(), list);
    t.stop().await;
}
