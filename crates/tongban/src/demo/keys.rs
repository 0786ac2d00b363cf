//! Chapters 6 and 7: licences outlive the key that signed them, and a
//! compromised key is invalid from the instant it is revoked, even for a
//! licence forged with it afterwards.

use time::Duration;
use tongban_licence::credential::{self, Allocation, Issuer};
use tongban_licence::{IssueRequest, IssuedLicence};
use tongban_seal::KeyPurpose;
use tongban_service::samples::{self, CIVIL_AFFAIRS};
use tongban_service::{IssueInput, KeyStore};
use tongban_store::KeyRow;

use super::{Demo, section};
use crate::output::print_verification;

/// 民政局's new key after the rotation, and a licence it signed.
pub struct Rotated {
    key: KeyRow,
    signed: IssuedLicence,
}

/// Chapter 6: 民政局 rotates its key; the 结婚证 signed with the old one stays valid.
pub async fn rotate(demo: &Demo, marriage: &IssuedLicence) -> anyhow::Result<Rotated> {
    section(6, "Key rotation: licences outlive the key that signed them");
    let hub = &demo.hub;
    let old_key = hub.current_key(CIVIL_AFFAIRS, KeyPurpose::Issue).await?.1;
    demo.clock.set(demo.start + Duration::days(30));
    let (_, new_key) = hub
        .rotate_key(&old_key.public.to_multikey(), Duration::days(1))
        .await?;
    demo.clock.set(demo.start + Duration::days(32));
    println!(
        "  花都区民政局 rotated from {}… to {}…",
        &old_key.public.to_multikey()[..16],
        &new_key.key_id[..16]
    );
    let v = hub.verify_online(marriage.credential.clone()).await?;
    println!(
        "  the 结婚证 signed with the old key: {}",
        if v.valid {
            "still valid ✔"
        } else {
            "not valid ✘"
        }
    );
    let signed = hub
        .issue(
            CIVIL_AFFAIRS,
            IssueInput::from_json(&samples::senior_card_request())?,
        )
        .await?;
    println!(
        "  a new 老年人优待证 is signed with the new key: {}",
        signed.credential["proof"]["verificationMethod"]
            .as_str()
            .unwrap_or("")
    );
    Ok(Rotated {
        key: new_key,
        signed,
    })
}

/// Chapter 7: the new key is revoked as stolen: what it signed before stays valid,
/// a licence signed with it afterwards does not verify.
pub async fn revoked_key(demo: &Demo, rotated: &Rotated) -> anyhow::Result<()> {
    section(
        7,
        "A compromised key is invalid from the instant it is revoked",
    );
    let hub = &demo.hub;
    let stolen_at = demo.start + Duration::days(33);
    hub.revoke_signing_key(&rotated.key.key_id, Some(stolen_at), "密钥泄露")
        .await?;
    demo.clock.set(demo.start + Duration::days(34));
    println!(
        "  the new key was revoked as of {}",
        tongban_seal::timefmt::format_rfc3339(stolen_at)
    );
    let v = hub.verify_online(rotated.signed.credential.clone()).await?;
    println!(
        "  the licence it signed before that: {}",
        if v.valid {
            "valid ✔"
        } else {
            "not valid ✘"
        }
    );
    let forged = forge(demo, &rotated.key.key_id).await?;
    println!("  a licence signed with the stolen key after the revocation:");
    print_verification(&hub.verify_online(forged.credential).await?, false)
}

/// Someone holding the stolen secret signs a licence after the revocation,
/// without the hub.
async fn forge(demo: &Demo, key_id: &str) -> anyhow::Result<IssuedLicence> {
    let hub = &demo.hub;
    let stolen = KeyStore::open(&demo.dir.join("keys"))?.load(key_id).await?;
    let record = hub
        .key_records()
        .await?
        .into_iter()
        .find(|k| k.public.to_multikey() == key_id)
        .ok_or_else(|| anyhow::anyhow!("key record missing"))?;
    let types = hub.licence_types();
    let code = tongban_codes::Uscc::parse(CIVIL_AFFAIRS)?;
    let issuer = Issuer {
        code: &code,
        name: "广州市花都区民政局",
        key: &stolen,
        key_record: &record,
    };
    let forged_input = IssueInput::from_json(&samples::senior_card_request())?;
    let request = IssueRequest {
        type_code: forged_input.type_code.clone(),
        type_version: None,
        holder: tongban_licence::Holder {
            name: "冒名者".into(),
            code: tongban_codes::HolderCode::parse(
                tongban_codes::HolderCodeType::CitizenId,
                samples::LIU.1,
            )?,
        },
        data: forged_input.data.clone(),
        valid_from: None,
        valid_until: None,
        service_item: None,
        attachment: None,
    };
    let licence_type = types
        .latest(&request.type_code)
        .ok_or_else(|| anyhow::anyhow!("type missing"))?;
    Ok(credential::issue(
        licence_type,
        &request,
        &issuer,
        &Allocation {
            serial: "20260101999999".into(),
            version: 1,
            list_sequence: 0,
            status_index: 99_999,
        },
        hub.now(),
    )?)
}
