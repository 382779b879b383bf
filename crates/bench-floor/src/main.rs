//! The floor for `make bench`: the smallest useful Lambda, built with the same profile as the fleet.

use lambda_runtime::{service_fn, Error, LambdaEvent};

#[tokio::main(flavor = "current_thread")]
async fn main() -> Result<(), Error> {
    lambda_runtime::run(service_fn(|_: LambdaEvent<serde_json::Value>| async {
        Ok::<_, Error>(serde_json::json!({"Result": "OK"}))
    }))
    .await
}
