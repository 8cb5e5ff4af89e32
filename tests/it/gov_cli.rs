//! `coco gov` against a real three-member consortium (`genesis/consortium.json`:
//! members are dev accounts 0, 1, 2; 3 and 5 users; 4 an auditor), with `cast` side by
//! side: users added by vote transact and read with a governed API key, and lose both
//! when removed; every refusal is the contract's decoded error; thresholds, public logs
//! and code replacement take effect. One node process for every step.

use std::time::Duration;

use alloy::hex;
use alloy::primitives::{Address, Bytes};
use alloy::signers::local::PrivateKeySigner;
use alloy::sol_types::SolError;
use coco::governance::abi::IGovernance;
use serde_json::{Value, json};
use tokio::process::Command;

use crate::common::*;

const GOV: &str = "0x000000000000000000000000000000000000C0C0";
/// Runtime code that logs (LOG0, no topics) on every call; its creation code returns it.
const EMITTER_INIT: &str = "0x6560006000a0006000526006601af3";

/// `coco gov <args> --rpc-url <url>` as the member with private key `key` (in the
/// environment, as a user would keep it); (success, stdout, stderr).
pub(crate) async fn gov(url: &str, key: &str, args: &[&str]) -> (bool, String, String) {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_coco"));
    cmd.arg("gov")
        .args(args)
        .args(["--rpc-url", url])
        .env("COCO_PRIVATE_KEY", key)
        .env_remove("COCO_API_KEY")
        .env_remove("COCO_RPC_URL")
        .env("RUST_LOG", "warn");
    exec(cmd, Duration::from_secs(120)).await
}

async fn cast(args: &[&str]) -> (bool, String, String) {
    let mut cmd = Command::new(tool("cast"));
    cmd.args(args);
    exec(cmd, Duration::from_secs(120)).await
}

/// The standard output of a command that must succeed.
pub(crate) fn ok(what: &str, (success, out, err): (bool, String, String)) -> String {
    assert!(success, "{what} failed:\n{out}\n{err}");
    out
}

/// The standard error of a command that must fail; it must contain `needle`.
fn refused(what: &str, (success, out, err): (bool, String, String), needle: &str) -> String {
    assert!(!success, "{what} succeeded:\n{out}");
    assert!(err.contains(needle), "{what}: no `{needle}` in:\n{err}");
    err
}

/// The id `coco gov propose` printed ("proposal N created: …").
pub(crate) fn proposal_id(out: &str) -> String {
    out.lines()
        .find_map(|l| l.strip_prefix("proposal ")?.split_once(" created: "))
        .map(|(id, _)| id.to_string())
        .unwrap_or_else(|| panic!("no proposal id in:\n{out}"))
}

fn selector<E: SolError>() -> String {
    hex::encode(E::SELECTOR)
}

/// A raw transfer signed offline by `key` (cast mktx needs no node), published with
/// cast; (success, stdout, stderr) of the publish.
async fn user_transfer(url: &str, key: &str, nonce: u64) -> (bool, String, String) {
    let nonce = nonce.to_string();
    let raw = ok(
        "cast mktx",
        cast(&[
            "mktx",
            "--private-key",
            key,
            "--nonce",
            &nonce,
            "--gas-limit",
            "21000",
            "--gas-price",
            "5gwei",
            "--priority-gas-price",
            "1gwei",
            "--chain",
            "1337",
            "0x000000000000000000000000000000000000dEaD",
            "--value",
            "1",
        ])
        .await,
    );
    cast(&["publish", raw.trim(), "--async", "--rpc-url", url]).await
}

async fn logs(url: &str, key: &str, address: &str) -> Value {
    let res = raw_rpc(
        &format!("{url}/{key}"),
        json!({"jsonrpc": "2.0", "id": 1, "method": "eth_getLogs",
               "params": [{"address": address, "fromBlock": "0x0"}]}),
    )
    .await;
    assert!(res.get("error").is_none(), "{res}");
    res["result"].clone()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn governance_from_the_command_line_and_cast() {
    let dir = tempfile::tempdir().unwrap();
    let data = dir.path().join("chain");
    let data = data.to_str().unwrap();
    let genesis = repo_root().join("genesis/consortium.json");
    let mut init = Command::new(env!("CARGO_BIN_EXE_coco"));
    init.args([
        "init",
        "--genesis",
        genesis.to_str().unwrap(),
        "--data-dir",
        data,
    ]);
    ok("coco init", exec(init, Duration::from_secs(60)).await);
    let (_node, url) = spawn_coco(&["node", "--data-dir", data, "--port", "0"]).await;
    let url = url.as_str();
    let [k0, k1, k2, k3, _, k5] = [0, 1, 2, 3, 4, 5].map(|i| DEV_KEYS[i]);
    let [m0, m1, m2] = [0, 1, 2].map(|i| DEV_ADDRESSES[i]);

    // Session keys for cast, by SIWE through `coco gov login`.
    let mut keys = Vec::new();
    for k in [k0, k1, k2, k3, k5] {
        let key = ok("coco gov login", gov(url, k, &["login"]).await);
        keys.push(key.trim().to_string());
    }
    let [key0, _key1, key2, key3, key5] = <[String; 5]>::try_from(keys).unwrap();
    let at = |key: &str| format!("{url}/{key}");

    let members = ok("members", gov(url, k3, &["members"]).await);
    assert_eq!(members.lines().count(), 3, "{members}");
    assert!(members.contains(m0) && members.contains(m1) && members.contains(m2));

    // 1. A fresh account, funded by a member, is refused until governance adds it.
    let user = PrivateKeySigner::random();
    let user_key = format!("0x{}", hex::encode(user.to_bytes()));
    let user_address = user.address().to_string();
    ok(
        "fund the user",
        cast(&[
            "send",
            &user_address,
            "--value",
            "1ether",
            "--private-key",
            k0,
            "--rpc-url",
            &at(&key0),
        ])
        .await,
    );
    refused(
        "an unregistered sender",
        user_transfer(url, &user_key, 0).await,
        "sender not permitted: not a registered user of this network",
    );
    refused(
        "an unregistered reader",
        gov(url, &user_key, &["list"]).await,
        "SIWE sign-in failed: login refused: ",
    );
    let out = ok(
        "propose add-user",
        gov(url, k0, &["propose", "add-user", &user_address, "--vote"]).await,
    );
    let p1 = proposal_id(&out);
    assert!(out.contains("1 yes, 0 no, 2 yes needed"), "{out}");
    let out = ok("vote", gov(url, k1, &["vote", &p1, "yes"]).await);
    assert!(out.contains(&format!("proposal {p1} accepted")), "{out}");
    assert!(
        out.contains(&format!("UserAdded(user {user_address}, role User)")),
        "{out}"
    );
    let users = ok("users", gov(url, k0, &["users"]).await);
    assert!(users.contains(&format!("{user_address}  user")), "{users}");
    ok(
        "a registered user's transfer",
        user_transfer(url, &user_key, 0).await,
    );

    // 2. An API key by vote: refused before, reads the user's own data after.
    let out = ok(
        "add-key",
        gov(url, k0, &["add-key", &user_address, "--vote"]).await,
    );
    let p2 = proposal_id(&out);
    let api_key = out
        .lines()
        .find(|l| l.starts_with("coco_"))
        .unwrap_or_else(|| panic!("no key in:\n{out}"))
        .to_string();
    refused(
        "a key not accepted yet",
        cast(&["balance", &user_address, "--rpc-url", &at(&api_key)]).await,
        "-32030",
    );
    ok(
        "cast vote",
        cast(&[
            "send",
            GOV,
            "vote(uint256,bool)",
            &p2,
            "true",
            "--private-key",
            k2,
            "--rpc-url",
            &at(&key2),
        ])
        .await,
    );
    let balance = ok(
        "the user's balance with its key",
        cast(&["balance", &user_address, "--rpc-url", &at(&api_key)]).await,
    );
    assert!(balance.trim().parse::<u128>().unwrap() > 0, "{balance}");
    let nonce = ok(
        "the user's nonce",
        cast(&["nonce", &user_address, "--rpc-url", &at(&api_key)]).await,
    );
    assert_eq!(nonce.trim(), "1", "the user's transfer was mined");
    let show = ok("show", gov(url, k0, &["show", &p2]).await);
    assert!(show.contains(&format!("proposal {p2}: Accepted")), "{show}");
    assert!(
        show.contains(&format!("add-api-key {user_address} 0x")),
        "{show}"
    );
    assert!(show.contains(&format!("{m2}  yes")) && show.contains(&format!("{m1}  -")));

    // Removing the user takes its key and its right to transact.
    let out = ok(
        "propose remove-user",
        gov(
            url,
            k1,
            &["propose", "remove-user", &user_address, "--vote"],
        )
        .await,
    );
    let p3 = proposal_id(&out);
    let out = ok("vote", gov(url, k0, &["vote", &p3, "yes"]).await);
    assert!(
        out.contains(&format!("UserRemoved(user {user_address})")),
        "{out}"
    );
    refused(
        "a removed user's key",
        cast(&["balance", &user_address, "--rpc-url", &at(&api_key)]).await,
        "-32030",
    );
    refused(
        "a removed user's transfer",
        user_transfer(url, &user_key, 1).await,
        "sender not permitted: not a registered user of this network",
    );

    // 3. Refusals, decoded by coco gov; cast shows the same error's selector.
    let a3 = DEV_ADDRESSES[3];
    let x = "0x00000000000000000000000000000000000000AA";
    refused(
        "a user proposes",
        gov(url, k3, &["propose", "add-user", x]).await,
        &format!("refused: NotAMember(caller {a3})"),
    );
    refused(
        "a user votes",
        gov(url, k3, &["vote", &p1, "yes"]).await,
        &format!("refused: NotAMember(caller {a3})"),
    );
    let args = ok(
        "cast abi-encode",
        cast(&["abi-encode", "f(address,uint8)", x, "1"]).await,
    );
    let actions = format!("[(3,{})]", args.trim());
    refused(
        "a user proposes with cast",
        cast(&[
            "send",
            GOV,
            "propose((uint8,bytes)[])",
            &actions,
            "--private-key",
            k3,
            "--rpc-url",
            &at(&key3),
        ])
        .await,
        &selector::<IGovernance::NotAMember>(),
    );
    refused(
        "a vote on an accepted proposal",
        gov(url, k2, &["vote", &p1, "no"]).await,
        &format!("refused: ProposalNotOpen(id {p1}, state Accepted)"),
    );
    refused(
        "a vote on an accepted proposal with cast",
        cast(&[
            "send",
            GOV,
            "vote(uint256,bool)",
            &p1,
            "false",
            "--private-key",
            k2,
            "--rpc-url",
            &at(&key2),
        ])
        .await,
        &selector::<IGovernance::ProposalNotOpen>(),
    );
    refused(
        "malformed args",
        gov(url, k0, &["propose", "raw", "3", "0x1234"]).await,
        "refused: MalformedAction(index 0, kind 3)",
    );
    refused(
        "malformed args with cast",
        cast(&[
            "send",
            GOV,
            "propose((uint8,bytes)[])",
            "[(3,0x1234)]",
            "--private-key",
            k0,
            "--rpc-url",
            &at(&key0),
        ])
        .await,
        &selector::<IGovernance::MalformedAction>(),
    );

    // 4. Unanimity for addUser: two yes votes no longer pass it.
    let out = ok(
        "propose set-threshold",
        gov(
            url,
            k0,
            &["propose", "set-threshold", "add-user", "10000", "--vote"],
        )
        .await,
    );
    let p4 = proposal_id(&out);
    let out = ok("vote", gov(url, k1, &["vote", &p4, "yes"]).await);
    assert!(out.contains("ThresholdSet(kind 3, bps 10000)"), "{out}");
    let y = "0x00000000000000000000000000000000000000BB";
    let p5 = proposal_id(&ok(
        "propose add-user",
        gov(
            url,
            k0,
            &["propose", "add-user", y, "--role", "auditor", "--vote"],
        )
        .await,
    ));
    let out = ok("vote", gov(url, k1, &["vote", &p5, "yes"]).await);
    assert!(out.contains("is Open: 2 yes, 0 no, 3 yes needed"), "{out}");
    refused(
        "a double vote",
        gov(url, k1, &["vote", &p5, "yes"]).await,
        &format!("refused: AlreadyVoted(id {p5}, member {m1})"),
    );
    refused(
        "a double vote with cast",
        cast(&[
            "send",
            GOV,
            "vote(uint256,bool)",
            &p5,
            "true",
            "--private-key",
            k0,
            "--rpc-url",
            &at(&key0),
        ])
        .await,
        &selector::<IGovernance::AlreadyVoted>(),
    );
    // The third member votes from an encrypted keystore.
    let keystore_dir = dir.path().join("keystore");
    std::fs::create_dir(&keystore_dir).unwrap();
    let signer: PrivateKeySigner = k2.parse().unwrap();
    PrivateKeySigner::encrypt_keystore(
        &keystore_dir,
        &mut rand::thread_rng(),
        signer.to_bytes(),
        "correct horse",
        Some("member2.json"),
    )
    .unwrap();
    let password = dir.path().join("password");
    std::fs::write(&password, "correct horse\n").unwrap();
    let out = ok(
        "vote from a keystore",
        gov(
            url,
            "",
            &[
                "vote",
                &p5,
                "yes",
                "--keystore",
                keystore_dir.join("member2.json").to_str().unwrap(),
                "--password-file",
                password.to_str().unwrap(),
            ],
        )
        .await,
    );
    assert!(out.contains(&format!("proposal {p5} accepted")), "{out}");
    let users = ok("users", gov(url, k0, &["users"]).await);
    assert!(
        users.contains(&format!("{}  auditor", y.parse::<Address>().unwrap())),
        "{users}"
    );

    // 5. Public logs: an account that is neither sender nor topic sees them once public.
    let deployed: Value = serde_json::from_str(&ok(
        "deploy the emitter",
        cast(&[
            "send",
            "--private-key",
            k0,
            "--rpc-url",
            &at(&key0),
            "--json",
            "--create",
            EMITTER_INIT,
        ])
        .await,
    ))
    .unwrap();
    let emitter = deployed["contractAddress"].as_str().unwrap().to_string();
    ok(
        "emit",
        cast(&[
            "send",
            &emitter,
            "--private-key",
            k0,
            "--rpc-url",
            &at(&key0),
        ])
        .await,
    );
    assert_eq!(
        logs(url, &key0, &emitter).await.as_array().unwrap().len(),
        1
    );
    assert_eq!(
        logs(url, &key5, &emitter).await,
        json!([]),
        "not public yet"
    );
    let p6 = proposal_id(&ok(
        "propose set-logs-public",
        gov(
            url,
            k0,
            &["propose", "set-logs-public", &emitter, "true", "--vote"],
        )
        .await,
    ));
    ok("vote", gov(url, k2, &["vote", &p6, "yes"]).await);
    assert_eq!(
        logs(url, &key5, &emitter).await.as_array().unwrap().len(),
        1
    );

    // 6. Replacing governance's code with a variant deployed at another address
    //    (replaceCode needs all three).
    let mut code = coco::governance::runtime_code().to_vec();
    code.extend(b"coco gov cli");
    let length = u16::try_from(code.len()).unwrap().to_be_bytes();
    let mut init = vec![
        0x61, length[0], length[1], 0x80, 0x60, 0x0c, 0x60, 0x00, 0x39,
    ];
    init.extend([0x60, 0x00, 0xf3]);
    init.extend(&code);
    let init = Bytes::from(init).to_string();
    let deployed: Value = serde_json::from_str(&ok(
        "deploy the new code",
        cast(&[
            "send",
            "--private-key",
            k0,
            "--rpc-url",
            &at(&key0),
            "--json",
            "--create",
            &init,
        ])
        .await,
    ))
    .unwrap();
    let source = deployed["contractAddress"].as_str().unwrap().to_string();
    let p7 = proposal_id(&ok(
        "propose replace-code",
        gov(url, k0, &["propose", "replace-code", &source, "--vote"]).await,
    ));
    let out = ok("vote", gov(url, k1, &["vote", &p7, "yes"]).await);
    assert!(out.contains("is Open: 2 yes, 0 no, 3 yes needed"), "{out}");
    ok(
        "cast vote",
        cast(&[
            "send",
            GOV,
            "vote(uint256,bool)",
            &p7,
            "true",
            "--private-key",
            k2,
            "--rpc-url",
            &at(&key2),
        ])
        .await,
    );
    let show = ok("show", gov(url, k0, &["show", &p7]).await);
    assert!(show.contains(&format!("proposal {p7}: Accepted")), "{show}");
    let pending = "pendingCode()(address,bytes32,uint256)";
    let before = ok(
        "pendingCode",
        cast(&["call", GOV, pending, "--from", m0, "--rpc-url", &at(&key0)]).await,
    );
    let before: Vec<&str> = before.split_whitespace().collect();
    assert_eq!(
        before[0].to_lowercase(),
        source.to_lowercase(),
        "recorded until the next block"
    );
    assert_eq!(before[2], p7);
    // The next block applies it.
    ok(
        "a transfer",
        cast(&[
            "send",
            "0x000000000000000000000000000000000000dEaD",
            "--value",
            "1",
            "--private-key",
            k0,
            "--rpc-url",
            &at(&key0),
        ])
        .await,
    );
    let installed = ok("cast code", cast(&["code", GOV, "--rpc-url", url]).await);
    assert_eq!(installed.trim(), Bytes::from(code).to_string());
    let after = ok(
        "pendingCode",
        cast(&["call", GOV, pending, "--from", m0, "--rpc-url", &at(&key0)]).await,
    );
    let zero_word = format!("0x{}", "0".repeat(64));
    assert_eq!(
        after.split_whitespace().collect::<Vec<_>>(),
        [Address::ZERO.to_string().as_str(), &zero_word, "0"],
        "{after}"
    );
    // The new code keeps the storage: every proposal is still listed.
    let list = ok("list", gov(url, k0, &["list"]).await);
    assert_eq!(list.lines().count(), 8, "{list}");
    assert!(
        list.lines().skip(1).all(|l| l.contains("Accepted")),
        "{list}"
    );

    // 7. Withdrawing is the proposer's; expiring is anyone's, once the lifetime passed.
    let p8 = proposal_id(&ok(
        "propose",
        gov(url, k0, &["propose", "rotate-ledger-secret"]).await,
    ));
    refused(
        "another member withdraws",
        gov(url, k1, &["withdraw", &p8]).await,
        &format!("refused: NotProposer(id {p8}, caller {m1})"),
    );
    let out = ok("withdraw", gov(url, k0, &["withdraw", &p8]).await);
    assert!(out.contains(&format!("proposal {p8} withdrawn")), "{out}");
    refused(
        "a second withdrawal with cast",
        cast(&[
            "send",
            GOV,
            "withdraw(uint256)",
            &p8,
            "--private-key",
            k0,
            "--rpc-url",
            &at(&key0),
        ])
        .await,
        &selector::<IGovernance::ProposalNotOpen>(),
    );
    let p9 = proposal_id(&ok(
        "propose set-proposal-lifetime",
        gov(
            url,
            k0,
            &["propose", "set-proposal-lifetime", "1", "--vote"],
        )
        .await,
    ));
    ok("vote", gov(url, k1, &["vote", &p9, "yes"]).await);
    let p10 = proposal_id(&ok(
        "propose",
        gov(url, k0, &["propose", "rotate-ledger-secret"]).await,
    ));
    refused(
        "expire too early",
        gov(url, k3, &["expire", &p10]).await,
        &format!("refused: ProposalNotExpired(id {p10}, expiresAt "),
    );
    tokio::time::sleep(Duration::from_millis(1100)).await;
    ok(
        "a transfer (a block past the lifetime)",
        cast(&[
            "send",
            "0x000000000000000000000000000000000000dEaD",
            "--value",
            "1",
            "--private-key",
            k0,
            "--rpc-url",
            &at(&key0),
        ])
        .await,
    );
    refused(
        "a vote on an expired proposal",
        gov(url, k1, &["vote", &p10, "yes"]).await,
        &format!("ProposalExpired(id {p10}, expiredAt "),
    );
    let out = ok("expire (a user may)", gov(url, k3, &["expire", &p10]).await);
    assert!(out.contains(&format!("proposal {p10} expired")), "{out}");
    // Proposals are governance's own records: members and auditors read them.
    refused(
        "a user lists proposals",
        gov(url, k3, &["list"]).await,
        "NotAReader(origin ",
    );
    let list = ok("list", gov(url, k0, &["list"]).await);
    let state = |id: &str| {
        let line = list
            .lines()
            .find(|l| l.split_whitespace().next() == Some(id));
        line.and_then(|l| l.split_whitespace().nth(1))
            .unwrap_or_default()
            .to_string()
    };
    assert_eq!(state(&p8), "Withdrawn", "{list}");
    assert_eq!(state(&p10), "Expired", "{list}");
}
