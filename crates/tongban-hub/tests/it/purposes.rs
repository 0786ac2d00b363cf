//! One key, one purpose, over real QUIC: a department's envelopes are
//! signed with its exchange key, never with the key that signs its
//! licences; an exchange key its own system made and registered (the hub
//! holds no secret of it) works like any other.

use tongban_client::Client;
use tongban_proto::ErrorCode;
use tongban_seal::{KeyPurpose, SigningKey};

use crate::{CIVIL, MARKET, TestHub, fast_config, registration_to};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn envelopes_are_signed_with_exchange_keys_only() {
    for backend in tongban_tests::backends("purposes_exchange").await {
        eprintln!("purposes_exchange: {}", backend.name);
        let t = TestHub::start_on(backend, fast_config()).await;
        // Signed with the key that signs MARKET's licences: refused, stored nowhere.
        let (issuing, _) = t.hub.current_key(MARKET, KeyPurpose::Issue).await.unwrap();
        let with_issuing = Client::connect(tongban_client::ClientConfig {
            signing_key: issuing,
            ..t.client_config(MARKET).await
        })
        .await
        .unwrap();
        let draft = registration_to(&with_issuing, CIVIL);
        let e = with_issuing.send(draft).await.unwrap_err();
        assert_eq!(e.code(), Some(ErrorCode::KeyWrongPurpose), "{e}");
        with_issuing.close().await;

        // MARKET's system makes its own exchange key and registers it.
        let own = SigningKey::generate().unwrap();
        let request = tongban_seal::keyreg::sign(&own, MARKET, t.hub.now());
        let row = t.hub.register_exchange_key(&request).await.unwrap();
        assert_eq!(row.purpose, "exchange");
        let market = Client::connect(tongban_client::ClientConfig {
            signing_key: own,
            ..t.client_config(MARKET).await
        })
        .await
        .unwrap();
        let accepted = market.send(registration_to(&market, CIVIL)).await.unwrap();
        // The one accepted message is the only one stored.
        assert_eq!(accepted.seq, 1, "{accepted:?}");
        market.close().await;
        t.stop().await;
    }
}
