//! The generator of `routes.rs`: Stripe's operations
//! (`specs/stripe.operations.jsonl`) → action names, risks, body fields and
//! a static route trie. Test code only; `routes_are_current` fails when the
//! committed table is stale, and `UPDATE_ROUTES=1 cargo test -p stripe`
//! rewrites it.
//!
//! The naming rule (also in the README): an operation served by SDK method
//! `<Noun>Service.<verb>` in SDK file `<dir>/_x_service.py` becomes
//! `stripe.<dir with '/' → '_'>_<noun in snake_case>.<verb>` (no `<dir>_`
//! for top-level files), with the verb `retrieve` renamed `get`. [`PINNED`]
//! holds the names policies rely on; the generator uses them before the
//! rule (today the rule yields the same names).

use std::collections::BTreeMap;
use std::fmt::Write as _;

use serde_json::Value;
use tameflare_sdk::Risk;
use tameflare_sdk::route::RouterBuilder;

use crate::actions::FIELDS;

pub(crate) const SPEC: &str = concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../specs/stripe.operations.jsonl"
);
const ROUTES_RS: &str = concat!(env!("CARGO_MANIFEST_DIR"), "/src/routes.rs");

/// (method, path) → pinned action name.
pub(crate) const PINNED: &[(&str, &str, &str)] = &[
    ("POST", "/v1/charges", "stripe.charge.create"),
    ("POST", "/v1/refunds", "stripe.refund.create"),
    ("POST", "/v1/transfers", "stripe.transfer.create"),
];

/// SDK method → action verb, where they differ.
const VERB_ALIASES: &[(&str, &str)] = &[("retrieve", "get")];

/// Irreversible account-level operations.
const CRITICAL: &[&str] = &["stripe.account.delete", "stripe.v2_core_account.close"];

/// Nouns (or noun endings after `_`) whose writes move money.
const MONEY_NOUNS: &[&str] = &[
    "charge",
    "refund",
    "transfer",
    "transfer_reversal",
    "payout",
    "payout_intent",
    "topup",
    "payment_intent",
    "outbound_payment",
    "outbound_transfer",
    "inbound_transfer",
    "credit_note",
    "balance_transaction",
    "cash_balance",
    "credit_reversal",
    "debit_reversal",
    "subscription",
];

/// Words of a verb that make a write high risk: money moves or something is
/// cancelled, voided, closed or deleted for good.
const HIGH_VERB_WORDS: &[&str] = &[
    "capture",
    "confirm",
    "pay",
    "refund",
    "reverse",
    "reversal",
    "cancel",
    "void",
    "delete",
    "uncollectible",
    "increment",
    "approve",
    "decline",
    "close",
    "reject",
    "redact",
    "fund",
    "process",
    "accept",
];

/// Nouns whose writes change who controls the account, where payouts go,
/// or where events and secrets flow.
const SENSITIVE_NOUNS: &[&str] = &[
    "account",
    "account_external_account",
    "account_link",
    "account_login_link",
    "account_session",
    "apps_secret",
    "ephemeral_key",
    "issuing_card",
    "webhook_endpoint",
    "v2_core_account",
    "v2_core_account_link",
    "v2_core_event_destination",
];

/// `CustomerBalanceTransaction` → `customer_balance_transaction`.
fn snake(camel: &str) -> String {
    let mut out = String::new();
    for (i, c) in camel.chars().enumerate() {
        if c.is_ascii_uppercase() && i > 0 {
            out.push('_');
        }
        out.push(c.to_ascii_lowercase());
    }
    out
}

/// The action name of `op` under the pins and the naming rule.
pub(crate) fn action_name(op: &SpecOp) -> String {
    if let Some(&(_, _, name)) = PINNED
        .iter()
        .find(|(m, p, _)| *m == op.method && *p == op.path)
    {
        return name.to_string();
    }
    rule_name(&op.sdk_file, &op.sdk_method)
}

/// The naming rule alone: SDK file + SDK method → action name.
pub(crate) fn rule_name(sdk_file: &str, sdk_method: &str) -> String {
    let (class, method) = sdk_method
        .split_once('.')
        .expect("sdk_method is Class.method");
    let noun = snake(
        class
            .strip_suffix("Service")
            .expect("SDK classes end in Service"),
    );
    let ns = sdk_file.rsplit_once('/').map_or(String::new(), |(dir, _)| {
        format!("{}_", dir.replace('/', "_"))
    });
    let verb = VERB_ALIASES
        .iter()
        .find(|(m, _)| *m == method)
        .map_or(method, |(_, v)| v);
    format!("stripe.{ns}{noun}.{verb}")
}

/// The risk of action `name` called with `method`.
pub(crate) fn risk(method: &str, name: &str) -> Risk {
    if method == "GET" || method == "HEAD" {
        return Risk::Low;
    }
    if CRITICAL.contains(&name) {
        return Risk::Critical;
    }
    if method == "DELETE" {
        return Risk::High;
    }
    let mut parts = name.split('.').skip(1);
    let (noun, verb) = (parts.next().unwrap_or(""), parts.next().unwrap_or(""));
    if noun.starts_with("test_helpers") || noun.contains("_test_helpers") {
        // Test-mode simulations: no real money or account moves.
        return Risk::Medium;
    }
    let money = MONEY_NOUNS
        .iter()
        .any(|n| noun == *n || noun.strip_suffix(n).is_some_and(|head| head.ends_with('_')));
    if money
        || SENSITIVE_NOUNS.contains(&noun)
        || verb.split('_').any(|w| HIGH_VERB_WORDS.contains(&w))
    {
        return Risk::High;
    }
    Risk::Medium
}

/// One operation of the spec.
#[derive(Clone, Debug)]
pub(crate) struct SpecOp {
    pub(crate) method: String,
    pub(crate) path: String,
    pub(crate) id: String,
    pub(crate) summary: String,
    pub(crate) sdk_method: String,
    pub(crate) sdk_file: String,
    /// Host of the operation (`servers`, else `api.stripe.com`).
    pub(crate) host: String,
    pub(crate) path_params: Vec<String>,
    /// Query fields for GET/DELETE, body fields for POST.
    pub(crate) fields: Vec<String>,
    pub(crate) json: bool,
}

pub(crate) fn load_spec() -> Vec<SpecOp> {
    let text = std::fs::read_to_string(SPEC).expect("read the Stripe spec");
    text.lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| {
            let v: Value = serde_json::from_str(l).expect("spec line is JSON");
            let s = |k: &str| v[k].as_str().unwrap_or_default().to_string();
            let list = |k: &str| -> Vec<String> {
                v[k].as_array()
                    .map(|a| {
                        a.iter()
                            .filter_map(|x| x.as_str().map(String::from))
                            .collect()
                    })
                    .unwrap_or_default()
            };
            let method = s("method");
            let host = list("servers")
                .first()
                .map_or("api.stripe.com".into(), |u| {
                    u.trim_start_matches("https://")
                        .trim_end_matches('/')
                        .into()
                });
            let fields = if method == "POST" {
                list("body_params")
            } else {
                list("query_params")
            };
            SpecOp {
                path: s("path"),
                id: s("operation_id"),
                summary: first_sentence(&s("summary")),
                sdk_method: s("sdk_method"),
                sdk_file: s("sdk_file"),
                host,
                path_params: list("path_params"),
                json: list("body_content_types")
                    .iter()
                    .any(|t| t == "application/json"),
                fields,
                method,
            }
        })
        .collect()
}

/// The first sentence of a summary, for the one-line description.
fn first_sentence(s: &str) -> String {
    let s = s.trim();
    match s.find(". ") {
        Some(i) => s[..=i].to_string(),
        None => s.to_string(),
    }
}

/// How many leading path segments make the resource: up to the last
/// parameter; all when there is none.
fn keep(template: &str) -> u8 {
    let segs: Vec<&str> = template.trim_start_matches('/').split('/').collect();
    match segs.iter().rposition(|s| s.contains('{')) {
        Some(i) => u8::try_from(i + 1).expect("short path"),
        None => u8::MAX,
    }
}

/// Bit `i` set when the operation takes field `FIELDS[i]` (and it is not
/// already a path parameter).
fn field_mask(op: &SpecOp) -> u8 {
    FIELDS
        .iter()
        .enumerate()
        .filter(|(_, f)| {
            op.fields.iter().any(|x| x == *f) && !op.path_params.iter().any(|p| p == *f)
        })
        .fold(0, |m, (i, _)| m | 1 << i)
}

/// Checks that names are valid and unique per (method, path).
fn check_names(ops: &[SpecOp]) {
    let mut names: BTreeMap<String, Vec<String>> = BTreeMap::new();
    for op in ops {
        names
            .entry(action_name(op))
            .or_default()
            .push(format!("{} {}", op.method, op.path));
    }
    let shared: Vec<_> = names.iter().filter(|(_, ops)| ops.len() > 1).collect();
    assert!(shared.is_empty(), "names shared by operations: {shared:?}");
    for name in names.keys() {
        let segs: Vec<&str> = name.split('.').collect();
        let valid = segs.len() == 3
            && segs[0] == "stripe"
            && segs.iter().all(|seg| {
                !seg.is_empty()
                    && seg
                        .bytes()
                        .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'_')
            });
        assert!(valid, "invalid action name {name}");
    }
}

/// The whole `routes.rs` source.
pub(crate) fn generate(ops: &[SpecOp]) -> String {
    check_names(ops);
    let mut builder = RouterBuilder::new();
    for (i, op) in ops.iter().enumerate() {
        builder
            .insert(&op.method, &op.path, i as u32)
            .unwrap_or_else(|e| panic!("{} {}: {e}", op.method, op.path));
    }
    let router = builder.build();

    let mut s = String::new();
    s.push_str(
        "//! Stripe operations → actions, generated from `specs/stripe.operations.jsonl`\n\
         //! by `src/codegen.rs`. Do not edit: run `UPDATE_ROUTES=1 cargo test -p stripe`.\n\n\
         use tameflare_sdk::Risk;\n\nuse crate::actions::Op;\n\n",
    );
    let _ = writeln!(
        s,
        "/// Every operation, in spec order; the router returns indices into it."
    );
    let _ = writeln!(s, "pub(crate) static OPS: [Op; {}] = [", ops.len());
    for op in ops {
        let params: Vec<String> = tameflare_sdk::route::param_names(&op.path)
            .map(|p| format!("{p:?}"))
            .collect();
        let name = action_name(op);
        let _ = writeln!(
            s,
            "    Op {{ method: {:?}, path: {:?}, host: {:?}, operation_id: {:?}, action: {:?}, summary: {:?}, params: &[{}], keep: {}, risk: Risk::{:?}, fields: {}, json: {} }},",
            op.method,
            op.path,
            op.host,
            op.id,
            name,
            op.summary,
            params.join(", "),
            keep(&op.path),
            risk(&op.method, &name),
            field_mask(op),
            op.json,
        );
    }
    s.push_str("];\n\n/// The route trie over [`OPS`].\npub(crate) static ROUTER: tameflare_sdk::route::Router<'static> = ");
    s.push_str(&router.to_rust("tameflare_sdk::route"));
    s.push_str(";\n");
    s
}

#[test]
fn routes_are_current() {
    tameflare_sdk::testing::check_generated(ROUTES_RS, &generate(&load_spec()), "stripe");
}

#[test]
fn naming_rule() {
    let cases: &[(&str, &str, &str)] = &[
        (
            "_customer_service.py",
            "CustomerService.create",
            "stripe.customer.create",
        ),
        (
            "_charge_service.py",
            "ChargeService.create",
            "stripe.charge.create",
        ),
        (
            "_refund_service.py",
            "RefundService.create",
            "stripe.refund.create",
        ),
        (
            "_transfer_service.py",
            "TransferService.create",
            "stripe.transfer.create",
        ),
        (
            "_payment_intent_service.py",
            "PaymentIntentService.capture",
            "stripe.payment_intent.capture",
        ),
        (
            "_account_capability_service.py",
            "AccountCapabilityService.retrieve",
            "stripe.account_capability.get",
        ),
        (
            "treasury/_transaction_service.py",
            "TransactionService.list",
            "stripe.treasury_transaction.list",
        ),
        (
            "v2/core/_account_service.py",
            "AccountService.close",
            "stripe.v2_core_account.close",
        ),
        (
            "test_helpers/issuing/_card_service.py",
            "CardService.ship_card",
            "stripe.test_helpers_issuing_card.ship_card",
        ),
    ];
    for &(file, method, want) in cases {
        assert_eq!(rule_name(file, method), want, "{file} {method}");
    }
}

#[test]
fn pins_agree_with_the_spec() {
    let spec = load_spec();
    for &(method, path, name) in PINNED {
        let op = spec
            .iter()
            .find(|o| o.method == method && o.path == path)
            .unwrap_or_else(|| panic!("pinned {method} {path} is not in the spec"));
        assert_eq!(action_name(op), name);
    }
}

#[test]
fn risk_rule() {
    let cases: &[(&str, &str, Risk)] = &[
        ("GET", "stripe.charge.list", Risk::Low),
        ("POST", "stripe.customer.create", Risk::Medium),
        ("POST", "stripe.customer.update", Risk::Medium),
        ("POST", "stripe.charge.create", Risk::High),
        ("POST", "stripe.refund.create", Risk::High),
        ("POST", "stripe.transfer.create", Risk::High),
        ("POST", "stripe.payout.create", Risk::High),
        ("POST", "stripe.topup.create", Risk::High),
        ("POST", "stripe.payment_intent.confirm", Risk::High),
        ("POST", "stripe.payment_intent.capture", Risk::High),
        ("POST", "stripe.invoice.pay", Risk::High),
        ("POST", "stripe.subscription.cancel", Risk::High),
        (
            "POST",
            "stripe.treasury_outbound_payment.create",
            Risk::High,
        ),
        (
            "POST",
            "stripe.v2_money_management_payout_intent.confirm",
            Risk::High,
        ),
        ("POST", "stripe.webhook_endpoint.create", Risk::High),
        ("POST", "stripe.test_helpers_refund.expire", Risk::Medium),
        ("POST", "stripe.payment_method.attach", Risk::Medium),
        ("POST", "stripe.subscription.create", Risk::High),
        ("POST", "stripe.subscription_item.create", Risk::Medium),
        ("POST", "stripe.quote.accept", Risk::High),
        (
            "POST",
            "stripe.terminal_reader.process_payment_intent",
            Risk::High,
        ),
        ("POST", "stripe.issuing_card.create", Risk::High),
        ("POST", "stripe.issuing_cardholder.create", Risk::Medium),
        ("DELETE", "stripe.customer.delete", Risk::High),
        (
            "DELETE",
            "stripe.test_helpers_test_clock.delete",
            Risk::High,
        ),
        ("DELETE", "stripe.account.delete", Risk::Critical),
        ("POST", "stripe.v2_core_account.close", Risk::Critical),
    ];
    for &(method, name, want) in cases {
        assert_eq!(risk(method, name), want, "{method} {name}");
    }
}
