//! The governance contract's own tests (tests/forge/governance/*.t.sol): forge 1.7.1
//! with the solcjs shim, offline, no forge-std, on the runtime code of the committed
//! artifact (contracts/out/Governance.json) placed and initialised as a genesis does
//! it (docs/GOVERNANCE.md). No node: the node does not act on governance yet.

use std::path::Path;
use std::time::Duration;

use serde_json::Value;
use tokio::process::Command;

use crate::common::*;
use crate::tools::ForgeProject;

/// One `forge test` run compiles every contract with solcjs (tens of seconds on a
/// loaded machine); longer than this is a hang.
const FORGE_TIMEOUT: Duration = Duration::from_secs(600);

/// The suites tests/forge/governance holds, each with at least this many tests.
const SUITES: &[(&str, usize)] = &[
    ("governance/Actions.t.sol:ActionsTest", 20),
    ("governance/Proposals.t.sol:ProposalsTest", 20),
    ("governance/Genesis.t.sol:GenesisTest", 4),
    ("governance/Genesis.t.sol:OneMemberGenesisTest", 1),
    ("governance/Views.t.sol:ViewsTest", 6),
];

/// The forge project (`tests::ForgeProject`) with the governance tests.
struct GovernanceProject(ForgeProject);

impl GovernanceProject {
    fn new() -> GovernanceProject {
        GovernanceProject(ForgeProject::with_sources("governance"))
    }

    /// `forge test --json` on the governance tests, with `code` as the contract's
    /// runtime code (read by Base.sol's `placeGovernance`).
    fn forge_test(&self, code: &str) -> Command {
        let mut cmd = self.0.forge(&["test", "--json"]);
        // Governance's private views judge the transaction's origin; the zero origin is
        // answered (Views.t.sol sets origins with prank(sender, origin)).
        cmd.env("FOUNDRY_TEST", "governance")
            .env(
                "FOUNDRY_SENDER",
                "0x0000000000000000000000000000000000000000",
            )
            .env(
                "FOUNDRY_TX_ORIGIN",
                "0x0000000000000000000000000000000000000000",
            )
            .env("GOVERNANCE_CODE", code);
        cmd
    }

    /// The runtime code forge compiled from contracts/Governance.sol.
    fn compiled_code(&self) -> String {
        artifact_code(&self.0.root.join("out/Governance.sol/Governance.json"))
    }
}

/// `deployedBytecode.object` of a Foundry-shaped artifact.
fn artifact_code(path: &Path) -> String {
    let text = std::fs::read_to_string(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    let json: Value = serde_json::from_str(&text).unwrap();
    json["deployedBytecode"]["object"]
        .as_str()
        .unwrap_or_else(|| panic!("no deployedBytecode in {}", path.display()))
        .to_string()
}

/// Runtime code without solc's CBOR metadata (its last two bytes give its length):
/// the metadata hash covers source paths, which differ between the two compilations.
fn without_metadata(code: &str) -> Vec<u8> {
    let bytes = alloy::primitives::hex::decode(code).unwrap();
    let n = u16::from_be_bytes([bytes[bytes.len() - 2], bytes[bytes.len() - 1]]) as usize;
    bytes[..bytes.len() - n - 2].to_vec()
}

#[tokio::test]
async fn governance_contract_passes_its_forge_tests() {
    let project = GovernanceProject::new();
    let committed = artifact_code(&repo_root().join("contracts/out/Governance.json"));
    let cmd = project.forge_test(&committed);
    let line = describe(&cmd);
    let (ok, stdout, stderr) = exec(cmd, FORGE_TIMEOUT).await;
    let start = stdout
        .find('{')
        .unwrap_or_else(|| panic!("no JSON from {line}\n{stdout}\n{stderr}"));
    let results: Value = serde_json::from_str(stdout[start..].trim())
        .unwrap_or_else(|e| panic!("{line}: {e}\n{stdout}\n{stderr}"));

    let mut failures = Vec::new();
    for (suite, tests) in results.as_object().expect("suites") {
        for (test, result) in tests["test_results"].as_object().expect("test results") {
            if result["status"] != "Success" {
                failures.push(format!("{suite} {test}: {}", result["reason"]));
            }
        }
    }
    assert!(
        ok && failures.is_empty(),
        "{line}\nfailed:\n{}\n--- stderr ---\n{stderr}",
        failures.join("\n")
    );
    for (suite, at_least) in SUITES {
        let count = results[suite]["test_results"]
            .as_object()
            .map_or(0, |t| t.len());
        assert!(
            count >= *at_least,
            "{suite}: {count} tests ran, expected at least {at_least}"
        );
    }

    // The artifact the tests ran on (and a genesis places) is this source's:
    // regenerate it with scripts/compile-contracts.sh when it is not.
    assert!(
        without_metadata(&committed) == without_metadata(&project.compiled_code()),
        "contracts/out/Governance.json is not compiled from contracts/Governance.sol: \
         run scripts/compile-contracts.sh"
    );
}
