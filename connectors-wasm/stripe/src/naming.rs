//! Stripe's naming and risk choices for the generated `routes.rs`
//! (`specs/stripe.operations.jsonl` → [`tameflare_sdk::codegen`]), and its
//! extra columns (host, body fields, JSON or form body). Test code only;
//! `routes_are_current` fails when the committed table is stale, and
//! `cargo xtask codegen` (or `UPDATE_ROUTES=1 cargo test -p stripe`)
//! rewrites it.
//!
//! The naming rule (also in the README): an operation served by SDK method
//! `<Noun>Service.<verb>` in SDK file `<dir>/_x_service.py` becomes
//! `stripe.<dir with '/' → '_'>_<noun in snake_case>.<verb>` (no `<dir>_`
//! for top-level files), with the verb `retrieve` renamed `get`. [`PINNED`]
//! holds the names policies rely on; the generator uses them before the
//! rule (today the rule yields the same names).

use tameflare_sdk::Risk;
use tameflare_sdk::codegen::{self, Naming, Operation};

use crate::actions::FIELDS;

const SPEC: &str = include_str!("../../../specs/stripe.operations.jsonl");
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
pub(crate) fn action_name(op: &Operation) -> String {
    if let Some(&(_, _, name)) = PINNED
        .iter()
        .find(|(m, p, _)| *m == op.method && *p == op.path)
    {
        return name.to_string();
    }
    rule_name(op.text("sdk_file"), op.text("sdk_method"))
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

/// The first sentence of a summary, for the one-line description.
fn first_sentence(s: &str) -> String {
    let s = s.trim();
    match s.find(". ") {
        Some(i) => s[..=i].to_string(),
        None => s.to_string(),
    }
}

/// The host of `op` (`servers`, else `api.stripe.com`).
pub(crate) fn host(op: &Operation) -> String {
    op.list("servers")
        .first()
        .map_or("api.stripe.com".into(), |u| {
            u.trim_start_matches("https://")
                .trim_end_matches('/')
                .into()
        })
}

/// Query fields for GET/DELETE, body fields for POST.
fn fields(op: &Operation) -> Vec<&str> {
    if op.method == "POST" {
        op.list("body_params")
    } else {
        op.list("query_params")
    }
}

/// Bit `i` set when the operation takes field `FIELDS[i]` (and it is not
/// already a path parameter).
fn field_mask(op: &Operation) -> u8 {
    let (fields, path_params) = (fields(op), op.list("path_params"));
    FIELDS
        .iter()
        .enumerate()
        .filter(|(_, f)| fields.contains(f) && !path_params.contains(f))
        .fold(0, |m, (i, _)| m | 1 << i)
}

/// Stripe's choices.
pub(crate) struct StripeNaming;

impl Naming for StripeNaming {
    fn connector(&self) -> &str {
        "stripe"
    }

    fn header(&self) -> String {
        "Stripe operations → actions, generated from `specs/stripe.operations.jsonl`\nwith the naming in `src/naming.rs`.".into()
    }

    fn regenerate(&self) -> &str {
        "`cargo xtask codegen`"
    }

    fn action_name(&self, op: &Operation) -> String {
        action_name(op)
    }

    fn risk(&self, op: &Operation, action: &str) -> Risk {
        risk(&op.method, action)
    }

    fn summary(&self, op: &Operation) -> String {
        first_sentence(&op.summary)
    }

    fn extra_type(&self) -> Option<&str> {
        Some("crate::actions::Extra")
    }

    fn extra(&self, index: usize, ops: &[Operation]) -> String {
        let op = &ops[index];
        let json = op.list("body_content_types").contains(&"application/json");
        format!(
            "Extra {{ host: {:?}, fields: {}, json: {json} }}",
            host(op),
            field_mask(op)
        )
    }
}

/// Every operation of the spec, in spec order.
pub(crate) fn load_spec() -> Vec<Operation> {
    codegen::parse_operations(SPEC).expect("the Stripe spec")
}

/// The whole `routes.rs` source.
pub(crate) fn generate() -> String {
    codegen::generate(&StripeNaming, &load_spec()).unwrap_or_else(|e| panic!("{e}"))
}

#[test]
fn routes_are_current() {
    tameflare_sdk::testing::check_generated(ROUTES_RS, &generate(), "stripe");
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
