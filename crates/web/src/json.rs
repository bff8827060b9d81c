//! Reading fields of API answers for pages: a missing or mistyped field reads as empty, since
//! the page shows what it has rather than failing.

use serde_json::Value;

use crate::pages;

/// A string field, or "".
pub fn text(value: &Value, key: &str) -> String {
    value
        .get(key)
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string()
}

/// A millisecond timestamp field as "YYYY-MM-DD HH:MM" (UTC), or "".
pub fn time(value: &Value, key: &str) -> String {
    value
        .get(key)
        .and_then(Value::as_i64)
        .map(pages::utc_time)
        .unwrap_or_default()
}

/// An array field's items.
pub fn rows(value: &Value, key: &str) -> Vec<Value> {
    value
        .get(key)
        .and_then(Value::as_array)
        .cloned()
        .unwrap_or_default()
}

/// An array-of-strings field.
pub fn strings(value: &Value, key: &str) -> Vec<String> {
    value
        .get(key)
        .and_then(Value::as_array)
        .map(|list| {
            list.iter()
                .filter_map(Value::as_str)
                .map(str::to_string)
                .collect()
        })
        .unwrap_or_default()
}
