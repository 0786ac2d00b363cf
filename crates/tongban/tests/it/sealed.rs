//! Secrets sealed in the database from the command line: a KEK made, a hub
//! initialised with it (no key file anywhere), a second node that has only
//! the KEK file signing, a KEK rotation, and refusals.

use std::path::Path;

use crate::{business_request, cli, database_of, each_backend, json_of, ok, tongban};

/// `tongban` on the node whose own directory is `node`, sharing the
/// database of the hub in `hub`, with the KEK file `kek`.
fn on_node(hub: &Path, node: &Path, kek: &Path, args: &[&str]) -> std::process::Output {
    let mut command = cli(node);
    let database =
        database_of(hub).unwrap_or_else(|| hub.join("tongban.db").to_str().unwrap().to_owned());
    command
        .env("TONGBAN_DATABASE", database)
        .env("TONGBAN_KEK_FILE", kek)
        .args(args)
        .output()
        .unwrap()
}

fn key_files(dir: &Path) -> usize {
    std::fs::read_dir(dir.join("keys")).map_or(0, |d| {
        d.filter(|e| {
            e.as_ref().is_ok_and(|e| {
                e.path()
                    .extension()
                    .is_some_and(|x| x == "key" || x == "pem")
            })
        })
        .count()
    })
}

#[test]
fn sealed_secrets_from_the_command_line() {
    each_backend("cli_sealed", || {
        let dir = tempfile::tempdir().unwrap();
        let (hub, other) = (dir.path().join("hub"), dir.path().join("node-b"));
        let kek = dir.path().join("hub.kek");
        let kek_arg = kek.to_str().unwrap();
        let first = ok(&tongban(&hub, &["kek", "new", kek_arg]))
            .trim()
            .to_owned();
        assert!(first.starts_with("kek-"), "{first}");
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(&kek).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        // `init` with the KEK: every secret sealed in the database.
        ok(&cli(&hub)
            .args(["--kek-file", kek_arg, "init"])
            .output()
            .unwrap());
        assert_eq!(key_files(&hub), 0, "no secret as a file");
        assert!(!hub.join("keys/audit-pin.json").exists());
        let status = json_of(&on_node(&hub, &hub, &kek, &["--json", "secrets", "status"]));
        assert_eq!(status["sealed"]["current"], first.as_str());
        let sealed = status["sealed"]["byKek"][first.as_str()].as_u64().unwrap();
        assert!(sealed >= 4, "{status}");

        // Node B: nothing of its own but the KEK file.
        let request = business_request(dir.path());
        let issued = json_of(&on_node(
            &hub,
            &other,
            &kek,
            &[
                "--json",
                "licence",
                "issue",
                "--issuer",
                crate::MARKET,
                "--request",
                request.to_str().unwrap(),
            ],
        ));
        assert!(issued["licence"]["identifier"].is_string(), "{issued}");
        ok(&on_node(&hub, &other, &kek, &["audit", "verify"]));
        // Without the KEK, B has no key.
        let bare = cli(&other)
            .env(
                "TONGBAN_DATABASE",
                database_of(&hub)
                    .unwrap_or_else(|| hub.join("tongban.db").to_str().unwrap().to_owned()),
            )
            .args([
                "--json",
                "licence",
                "issue",
                "--issuer",
                crate::MARKET,
                "--request",
                request.to_str().unwrap(),
            ])
            .output()
            .unwrap();
        assert!(!bare.status.success());
        assert_eq!(json_of(&bare)["error"]["code"], "SIGNING_KEY_NONE");

        // A KEK rotation: the new one first, the old one still opening.
        let second = ok(&tongban(&hub, &["kek", "new", kek_arg]))
            .trim()
            .to_owned();
        let listed = json_of(&tongban(&hub, &["--json", "kek", "list", kek_arg]));
        assert_eq!(listed["held"], serde_json::json!([second, first]));
        let resealed = json_of(&on_node(
            &hub,
            &other,
            &kek,
            &["--json", "secrets", "reseal"],
        ));
        assert_eq!(resealed["resealed"].as_u64(), Some(sealed));
        let status = json_of(&on_node(&hub, &hub, &kek, &["--json", "secrets", "status"]));
        assert_eq!(
            status["sealed"]["byKek"],
            serde_json::json!({second.clone(): sealed})
        );

        // Refusals: a KEK file others may read; both ways of naming KEKs.
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&kek, std::fs::Permissions::from_mode(0o640)).unwrap();
            let out = on_node(&hub, &other, &kek, &["--json", "secrets", "status"]);
            assert_eq!(json_of(&out)["error"]["code"], "KEK_FILE_INSECURE");
            std::fs::set_permissions(&kek, std::fs::Permissions::from_mode(0o600)).unwrap();
        }
        let both = cli(&other)
            .env("TONGBAN_KEK_FILE", &kek)
            .env("TONGBAN_KEK", "k 00")
            .args(["--json", "secrets", "status"])
            .output()
            .unwrap();
        assert_eq!(json_of(&both)["error"]["code"], "KEK_INVALID");
    });
}
