//! Tests of the generated OpenAPI document.
