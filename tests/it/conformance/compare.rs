//! Comparing a response with the expected one, by hive's rules, and explaining the
//! first difference in one short line (`$.result.hash: expected "0x12…", got "0x34…"`).

use serde_json::{Map, Value};

/// Longest rendering of one JSON value in a difference.
const VALUE_CHARS: usize = 80;

/// Hive's rule: the parsed responses are equal (same keys, no extra fields, strings
/// byte-identical, numbers compared as numbers, `id` included), except that
/// `error.message` is ignored where both sides have an error object.
pub(super) fn exact(expected: &Value, got: &Value) -> Result<(), String> {
    let (mut expected, mut got) = (expected.clone(), got.clone());
    if let (Some(Value::Object(want)), Some(Value::Object(have))) =
        (expected.get_mut("error"), got.get_mut("error"))
    {
        want.remove("message");
        have.remove("message");
    }
    match answer_mismatch(&expected, &got) {
        Some(mismatch) => Err(mismatch),
        None => equal("$", &expected, &got),
    }
}

/// The check for `// speconly` tests.
///
/// Hive validates such a result against the method's OpenRPC schema. We approximate
/// that with the expected response as the schema: `jsonrpc` and `id` must be equal;
/// where a result is expected the response must carry a `result` (not an error) of
/// the same JSON shape, and where an error is expected it must carry an error object
/// of the same shape. Shapes match when:
/// - objects have the same key set, and their values match recursively;
/// - every element of an array matches the expected element at the same index or, past
///   the expected ones, the first expected element (so a geth response matches
///   itself, even though struct logs carry optional keys); an empty expected array
///   allows any array;
/// - a `0x` hex string is answered with a hex string, any other string with a string;
/// - numbers with numbers, booleans with booleans, `null` with `null`.
///
/// - an object whose keys are all data (addresses, hashes, numbers, as in
///   `txpool_content`'s `{address: {nonce: tx}}`) is a map, as its schema says: any such
///   keys, each value shaped like one of the expected values (see [`map_value_shape`]);
///
/// This is stricter than a schema where the schema has optional fields, and looser
/// where it constrains values (lengths, enumerations).
pub(super) fn shape(expected: &Value, got: &Value) -> Result<(), String> {
    for key in ["jsonrpc", "id"] {
        let (want, have) = (&expected[key], &got[key]);
        equal(&format!("$.{key}"), want, have)?;
    }
    if let Some(mismatch) = answer_mismatch(expected, got) {
        return Err(mismatch);
    }
    for key in ["result", "error"] {
        if let Some(want) = expected.get(key) {
            let Some(have) = got.get(key) else {
                return Err(format!("expected a {key}, got {}", render(got)));
            };
            return same_shape(&format!("$.{key}"), want, have);
        }
    }
    Err("the expected response has neither result nor error".into())
}

/// An error where a result is expected, or the reverse, said plainly (rather than as
/// a missing field).
fn answer_mismatch(expected: &Value, got: &Value) -> Option<String> {
    match (expected.get("result"), expected.get("error")) {
        (Some(_), None) if got.get("result").is_none() => {
            let error = got.get("error")?;
            Some(format!("expected a result, got error {}", render(error)))
        }
        (None, Some(want)) if got.get("error").is_none() => {
            let result = got.get("result")?;
            Some(format!(
                "expected error {}, got result {}",
                render(want),
                render(result)
            ))
        }
        _ => None,
    }
}

/// The first difference between `want` and `have`, found at JSON path `path`.
fn equal(path: &str, want: &Value, have: &Value) -> Result<(), String> {
    match (want, have) {
        (Value::Object(want), Value::Object(have)) => {
            for (key, want) in want {
                let path = format!("{path}.{key}");
                match have.get(key) {
                    Some(have) => equal(&path, want, have)?,
                    None => return Err(format!("{path}: missing, expected {}", render(want))),
                }
            }
            extra_field(path, want, have)
        }
        (Value::Array(want), Value::Array(have)) => {
            if want.len() != have.len() {
                return Err(format!(
                    "{path}: expected {} elements, got {}",
                    want.len(),
                    have.len()
                ));
            }
            want.iter()
                .zip(have)
                .enumerate()
                .try_for_each(|(i, (want, have))| equal(&format!("{path}[{i}]"), want, have))
        }
        (Value::Number(a), Value::Number(b)) if same_number(a, b) => Ok(()),
        (Value::String(want), Value::String(have)) if want != have => {
            Err(format!("{path}: {}", string_difference(want, have)))
        }
        _ if want == have => Ok(()),
        _ => Err(format!(
            "{path}: expected {}, got {}",
            render(want),
            render(have)
        )),
    }
}

/// Numbers are equal as numbers: `1` equals `1.0`.
fn same_number(a: &serde_json::Number, b: &serde_json::Number) -> bool {
    if a.is_f64() || b.is_f64() {
        a.as_f64() == b.as_f64()
    } else {
        a == b
    }
}

/// Two different strings: whole when short, else around their first difference.
fn string_difference(want: &str, have: &str) -> String {
    /// Characters shown before the first difference.
    const BEFORE: usize = 8;
    /// Characters shown from the first difference on.
    const FROM: usize = 40;
    let plain = |s: &str| Value::from(s).to_string();
    if plain(want).chars().count() + plain(have).chars().count() <= 2 * VALUE_CHARS {
        return format!("expected {}, got {}", plain(want), plain(have));
    }
    let same = want
        .chars()
        .zip(have.chars())
        .take_while(|(a, b)| a == b)
        .count();
    let start = same.saturating_sub(BEFORE);
    let window = |s: &str| {
        let shown: String = s.chars().skip(start).take(BEFORE + FROM).collect();
        let more = s.chars().count() > start + BEFORE + FROM;
        format!(
            "\"{}{shown}{}\"",
            if start > 0 { "…" } else { "" },
            if more { "…" } else { "" }
        )
    };
    format!(
        "strings differ at char {same} (lengths {} vs {}): expected {}, got {}",
        want.chars().count(),
        have.chars().count(),
        window(want),
        window(have)
    )
}

/// Shapes match; see [`shape`].
fn same_shape(path: &str, want: &Value, have: &Value) -> Result<(), String> {
    match (want, have) {
        (Value::Object(want_map), Value::Object(have_map)) if is_map(want_map) => {
            have_map.iter().try_for_each(|(key, have)| {
                let path = format!("{path}.{key}");
                if !is_data_key(key) {
                    return Err(format!("{path}: unexpected field, got {}", render(have)));
                }
                map_value_shape(&path, want_map, key, have)
            })
        }
        (Value::Object(want_map), Value::Object(have_map)) => {
            for (key, want) in want_map {
                let path = format!("{path}.{key}");
                match have_map.get(key) {
                    Some(have) => same_shape(&path, want, have)?,
                    None => return Err(format!("{path}: missing, expected {}", render(want))),
                }
            }
            extra_field(path, want_map, have_map)
        }
        (Value::Array(want), Value::Array(have)) => {
            have.iter()
                .enumerate()
                .try_for_each(|(i, have)| match want.get(i).or(want.first()) {
                    Some(want) => same_shape(&format!("{path}[{i}]"), want, have),
                    None => Ok(()),
                })
        }
        (Value::String(want), Value::String(have)) if !is_hex(want) || is_hex(have) => Ok(()),
        (Value::Number(_), Value::Number(_))
        | (Value::Bool(_), Value::Bool(_))
        | (Value::Null, Value::Null) => Ok(()),
        _ => Err(format!(
            "{path}: expected {} like {}, got {}",
            kind(want),
            render(want),
            render(have)
        )),
    }
}

/// The first key of `have` that `want` lacks, as an error.
fn extra_field(
    path: &str,
    want: &Map<String, Value>,
    have: &Map<String, Value>,
) -> Result<(), String> {
    match have.iter().find(|(key, _)| !want.contains_key(*key)) {
        Some((key, value)) => Err(format!(
            "{path}.{key}: unexpected field, got {}",
            render(value)
        )),
        None => Ok(()),
    }
}

/// A map's value: shaped like the expected value under the same key or like any of the
/// expected values; failing that (a kind the examples do not show, such as a blob
/// transaction among legacy ones) an object holding at least the fields every example
/// has, each shaped as there. The error is the one against the same key's (or first)
/// example.
fn map_value_shape(
    path: &str,
    want_map: &Map<String, Value>,
    key: &str,
    have: &Value,
) -> Result<(), String> {
    let closest = want_map.get(key).or(want_map.values().next());
    let Some(closest) = closest else {
        return Ok(());
    };
    let first_try = same_shape(path, closest, have);
    if first_try.is_ok()
        || want_map
            .values()
            .any(|want| same_shape(path, want, have).is_ok())
    {
        return Ok(());
    }
    let (Value::Object(have_fields), Some(Value::Object(first))) = (have, want_map.values().next())
    else {
        return first_try;
    };
    let common = first.iter().filter(|(field, _)| {
        want_map
            .values()
            .all(|want| want.get(field.as_str()).is_some())
    });
    for (field, want) in common {
        match have_fields.get(field) {
            Some(value) => same_shape(&format!("{path}.{field}"), want, value)?,
            None => return first_try,
        }
    }
    Ok(())
}

/// An object keyed by data rather than field names (see [`shape`]).
fn is_map(map: &Map<String, Value>) -> bool {
    !map.is_empty() && map.keys().all(|k| is_data_key(k))
}

/// A key that is data: hex (an address, a hash) or a decimal number (a nonce).
fn is_data_key(key: &str) -> bool {
    (is_hex(key) && key.len() > 2) || (!key.is_empty() && key.bytes().all(|b| b.is_ascii_digit()))
}

/// A `0x`-prefixed string of hex digits (`0x` alone is empty data).
fn is_hex(s: &str) -> bool {
    s.strip_prefix("0x")
        .is_some_and(|digits| digits.bytes().all(|b| b.is_ascii_hexdigit()))
}

/// The JSON type of `value`, for shape differences.
fn kind(value: &Value) -> &'static str {
    match value {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(s) if is_hex(s) => "a hex string",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
}

/// `value` as compact JSON, cut to [`VALUE_CHARS`] characters.
pub(super) fn render(value: &Value) -> String {
    truncate(&value.to_string(), VALUE_CHARS)
}

/// `text` cut to `max` characters, with `…` when cut.
pub(super) fn truncate(text: &str, max: usize) -> String {
    match text.char_indices().nth(max) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_string(),
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    #[test]
    fn exact_follows_hive() {
        let want = json!({"jsonrpc": "2.0", "id": 1, "result": {"a": "0xAb", "n": 1}});
        assert_eq!(exact(&want, &want.clone()), Ok(()));
        assert_eq!(
            exact(
                &want,
                &json!({"jsonrpc": "2.0", "id": 1, "result": {"a": "0xAb", "n": 1.0}})
            ),
            Ok(()),
            "numbers compare as numbers"
        );
        assert_eq!(
            exact(
                &want,
                &json!({"jsonrpc": "2.0", "id": 1, "result": {"a": "0xab", "n": 1}})
            ),
            Err(r#"$.result.a: expected "0xAb", got "0xab""#.into()),
            "strings are byte-identical"
        );
        assert_eq!(
            exact(
                &want,
                &json!({"jsonrpc": "2.0", "id": 1, "result": {"a": "0xAb", "n": 1, "x": 0}})
            ),
            Err("$.result.x: unexpected field, got 0".into())
        );
        assert_eq!(
            exact(
                &want,
                &json!({"jsonrpc": "2.0", "id": 2, "result": {"a": "0xAb", "n": 1}})
            ),
            Err("$.id: expected 1, got 2".into())
        );
        let long = |tail: &str| format!("0x{}{tail}", "0".repeat(100));
        assert_eq!(
            exact(&json!(long("12")), &json!(long("13"))),
            Err(r#"$: strings differ at char 103 (lengths 104 vs 104): expected "…000000012", got "…000000013""#.into())
        );
        assert_eq!(
            exact(&json!([1, 2]), &json!([1])),
            Err("$: expected 2 elements, got 1".into())
        );
    }

    #[test]
    fn exact_ignores_only_the_error_message() {
        let want = json!({"id": 1, "error": {"code": 3, "message": "reverted", "data": "0x01"}});
        let other_message = json!({"id": 1, "error": {"code": 3, "message": "no", "data": "0x01"}});
        assert_eq!(exact(&want, &other_message), Ok(()));
        let no_message = json!({"id": 1, "error": {"code": 3, "data": "0x01"}});
        assert_eq!(exact(&want, &no_message), Ok(()));
        let other_code =
            json!({"id": 1, "error": {"code": -32000, "message": "reverted", "data": "0x01"}});
        assert_eq!(
            exact(&want, &other_code),
            Err("$.error.code: expected 3, got -32000".into())
        );
        let no_data = json!({"id": 1, "error": {"code": 3, "message": "reverted"}});
        assert_eq!(
            exact(&want, &no_data),
            Err(r#"$.error.data: missing, expected "0x01""#.into())
        );
        assert_eq!(
            exact(
                &json!({"id": 1, "error": {"code": 3}}),
                &json!({"id": 1, "result": "0x"})
            ),
            Err(r#"expected error {"code":3}, got result "0x""#.into())
        );
        assert_eq!(
            exact(
                &json!({"id": 1, "result": "0x"}),
                &json!({"id": 1, "error": {"code": 3}})
            ),
            Err(r#"expected a result, got error {"code":3}"#.into())
        );
    }

    #[test]
    fn shape_checks_types_and_keys() {
        let want = json!({"jsonrpc": "2.0", "id": 1, "result": {
            "gas": 5, "hex": "0x10", "text": "PUSH1", "logs": [{"pc": 0, "stack": []}, {"pc": 1, "stack": [], "storage": {}}],
        }});
        assert_eq!(shape(&want, &want.clone()), Ok(()));
        let other = json!({"jsonrpc": "2.0", "id": 1, "result": {
            "gas": 7, "hex": "0x", "text": "STOP", "logs": [{"pc": 5, "stack": ["0x1"]}, {"pc": 6, "stack": [], "storage": {}}, {"pc": 7, "stack": []}],
        }});
        assert_eq!(
            shape(&want, &other),
            Ok(()),
            "past the expected elements: the first"
        );
        let mut bad = other.clone();
        bad["result"]["hex"] = json!("16");
        assert_eq!(
            shape(&want, &bad),
            Err(r#"$.result.hex: expected a hex string like "0x10", got "16""#.into())
        );
        let mut extra = other.clone();
        extra["result"]["logs"][2]["memory"] = json!([]);
        assert_eq!(
            shape(&want, &extra),
            Err("$.result.logs[2].memory: unexpected field, got []".into())
        );
        let error = json!({"jsonrpc": "2.0", "id": 1, "error": {"code": 3, "message": "x"}});
        assert_eq!(
            shape(&want, &error),
            Err(r#"expected a result, got error {"code":3,"message":"x"}"#.into())
        );
        assert_eq!(shape(&error, &error.clone()), Ok(()));
    }

    #[test]
    fn shape_treats_objects_keyed_by_data_as_maps() {
        let tx = json!({"nonce": "0x0", "type": "0x2"});
        let want = json!({"jsonrpc": "2.0", "id": 1, "result": {
            "pending": {"0x0c2c51a0990AeE1d73C1228de158688341557508": {"0": tx}}, "queued": {},
        }});
        let more = json!({"jsonrpc": "2.0", "id": 1, "result": {
            "pending": {
                "0x0c2c51a0990AeE1d73C1228de158688341557508": {"0": tx, "1": tx},
                "0x1F4924B14F34e24159387C0A4CdBaa32f3DDb0cF": {"0": tx},
            },
            "queued": {},
        }});
        assert_eq!(shape(&want, &more), Ok(()), "other addresses and nonces");
        let mut bad = more.clone();
        bad["result"]["pending"]["0x1F4924B14F34e24159387C0A4CdBaa32f3DDb0cF"]["0"]["nonce"] =
            json!(0);
        assert!(shape(&want, &bad).is_err(), "values keep their shape");
        let mut blob = more.clone();
        blob["result"]["pending"]["0x1F4924B14F34e24159387C0A4CdBaa32f3DDb0cF"]["0"] =
            json!({"nonce": "0x0", "type": "0x3", "maxFeePerBlobGas": "0x1"});
        assert_eq!(
            shape(&want, &blob),
            Ok(()),
            "a kind the examples lack, with their fields"
        );
        let mut named = more.clone();
        named["result"]["pending"]["oops"] = json!({});
        assert!(shape(&want, &named).is_err(), "field names are not data");
    }
}
