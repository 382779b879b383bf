//! `switchboard-local`: run the local cloud, and play calls against it.
//!
//! - `switchboard-local up` starts moto, the emulator and the fleet, seeds them, writes the endpoints
//!   to `.local/cloud.json` and runs until Ctrl-C, when it stops every process it started.
//! - `switchboard-local call emergency/Emergency_Authentication --from +61412345678 --input auto`
//!   plays a flow against the running cloud and prints the transcript.

use std::{collections::BTreeMap, path::PathBuf, process::Stdio, time::Duration};

use clap::{Parser, Subcommand, ValueEnum};
use serde::{Deserialize, Serialize};
use switchboard_local::{
    cloud::{self, LocalCloud},
    emulator::Sms,
    fixture::Fixture,
    flow::{Call, CallInput, FlowLibrary, Runner, Services},
    repo_root,
};

#[derive(Parser)]
#[command(about = "Switchboard's local cloud: moto, the AWS emulator, the fleet and the flow runner")]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Start the local cloud in the foreground (Ctrl-C stops it).
    Up {
        /// What runs the functions: `host` (the debug binaries `cargo build` made, behind our Runtime
        /// API: ready at once) or `cargo-lambda` (`cargo lambda watch`: rebuilds on change, but the
        /// first call to each function compiles it and can outlast Connect's 8 s limit).
        #[arg(long, value_enum, default_value_t = Runtime::Host)]
        runtime: Runtime,
        #[arg(long, default_value_t = 9000)]
        lambda_port: u16,
    },
    /// Play a contact flow against the running local cloud.
    Call {
        /// `<context>/<Flow>`, e.g. `emergency/Emergency_Authentication`.
        flow: String,
        #[arg(long)]
        from: String,
        /// The dialled number.
        #[arg(long, default_value = "+61255501000")]
        to: String,
        /// Caller input, in order: DTMF digits, `auto` (the PIN from the latest SMS), or `-` (silence).
        #[arg(long = "input")]
        inputs: Vec<CallInput>,
        /// Initial contact attributes, `key=value`.
        #[arg(long = "attribute", value_parser = parse_pair)]
        attributes: Vec<(String, String)>,
        /// Print the transcript as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Print the SMS the emulator has delivered.
    Outbox,
    /// Sign an agent in to the local user pool and print the ID token (for the `cognitoIdToken` header).
    SignIn {
        #[arg(long)]
        email: String,
        #[arg(long, default_value = "Local-Passw0rd!")]
        password: String,
    },
    /// Measure every function's release binary against the local cloud (run by `make bench`).
    Bench {
        /// Where the release binaries are.
        #[arg(long, default_value = "target/release")]
        binaries: PathBuf,
        /// Where to write results.json and results.md.
        #[arg(long, default_value = "bench")]
        out: PathBuf,
        /// Fresh processes per function for init and first invocation.
        #[arg(long, default_value_t = 10)]
        cold: usize,
        /// Warm invocations per function.
        #[arg(long, default_value_t = 200)]
        warm: usize,
    },
}

#[derive(Clone, Copy, ValueEnum)]
enum Runtime {
    CargoLambda,
    Host,
}

/// What `up` writes for `call` and `outbox` to find.
#[derive(Serialize, Deserialize)]
struct CloudFile {
    lambda_endpoint: String,
    #[serde(default)]
    gateway_endpoint: Option<String>,
    emulator_endpoint: String,
    moto_endpoint: String,
    instance_arn: String,
    queues: BTreeMap<String, String>,
    #[serde(default)]
    region: String,
    #[serde(default)]
    user_pool_client_id: String,
}

fn parse_pair(s: &str) -> Result<(String, String), String> {
    s.split_once('=').map(|(k, v)| (k.to_owned(), v.to_owned())).ok_or_else(|| format!("{s:?} is not key=value"))
}

fn cloud_file() -> PathBuf {
    repo_root().join(".local/cloud.json")
}

fn read_cloud_file() -> Result<CloudFile, String> {
    let path = cloud_file();
    let text = std::fs::read_to_string(&path)
        .map_err(|_| format!("{} not found: start the local cloud first (`make dev`)", path.display()))?;
    serde_json::from_str(&text).map_err(|e| format!("{} is malformed: {e}", path.display()))
}

#[tokio::main]
async fn main() -> std::process::ExitCode {
    // The error's own sentence (what failed, where), not its Debug form.
    match run(Cli::parse()).await {
        Ok(()) => std::process::ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("error: {error}");
            std::process::ExitCode::FAILURE
        }
    }
}

async fn run(cli: Cli) -> Result<(), Box<dyn std::error::Error>> {
    match cli.command {
        Command::Up { runtime, lambda_port } => up(runtime, lambda_port).await,
        Command::Call { flow, from, to, inputs, attributes, json } => {
            let file = read_cloud_file()?;
            let runner = Runner::new(
                FlowLibrary::repository(),
                Services {
                    lambda_endpoint: file.lambda_endpoint,
                    emulator_endpoint: file.emulator_endpoint,
                    instance_arn: file.instance_arn,
                    queues: file.queues,
                },
            );
            let call = Call { flow, from, to, attributes: attributes.into_iter().collect(), inputs };
            let transcript = runner.play(call).await?;
            if json {
                println!("{}", serde_json::to_string_pretty(&transcript)?);
            } else {
                print!("{transcript}");
            }
            Ok(())
        }
        Command::Bench { binaries, out, cold, warm } => bench(binaries, out, cold, warm).await,
        Command::SignIn { email, password } => {
            let file = read_cloud_file()?;
            let sdk = aws_config::defaults(aws_config::BehaviorVersion::latest())
                .region(aws_config::Region::new(file.region))
                .credentials_provider(aws_sdk_dynamodb::config::Credentials::new(
                    "testing", "testing", None, None, "cli",
                ))
                .endpoint_url(&file.emulator_endpoint)
                .load()
                .await;
            let answer = aws_sdk_cognitoidentityprovider::Client::new(&sdk)
                .initiate_auth()
                .auth_flow(aws_sdk_cognitoidentityprovider::types::AuthFlowType::UserPasswordAuth)
                .client_id(file.user_pool_client_id)
                .auth_parameters("USERNAME", email)
                .auth_parameters("PASSWORD", password)
                .send()
                .await
                .map_err(|e| {
                    format!("sign-in failed: {}", aws_sdk_cognitoidentityprovider::error::DisplayErrorContext(&e))
                })?;
            println!("{}", answer.authentication_result().and_then(|r| r.id_token()).unwrap_or_default());
            Ok(())
        }
        Command::Outbox => {
            let file = read_cloud_file()?;
            let outbox: Vec<Sms> =
                reqwest::get(format!("{}/_local/outbox", file.emulator_endpoint)).await?.json().await?;
            for sms in outbox {
                println!("to {} from {}: {}", sms.to, sms.sender_id.unwrap_or_default(), sms.body);
            }
            Ok(())
        }
    }
}

async fn bench(binaries: PathBuf, out: PathBuf, cold: usize, warm: usize) -> Result<(), Box<dyn std::error::Error>> {
    use switchboard_local::bench::{self, Plan, Report, Setup, Subject};
    // The fleet (from the same binaries) serves the setups' invocations; each measured function runs
    // in processes of its own.
    let fixture = Fixture::load(&Fixture::default_path())?;
    let cloud = LocalCloud::with_fleet(fixture, binaries.clone(), BTreeMap::new()).await?;
    let plan = Plan {
        cold_runs: cold,
        warm_runs: warm,
        env: cloud.function_env(),
        region: cloud.fixture.region.clone(),
        account_id: cloud.fixture.account_id.clone(),
    };
    let mut setup = Setup::new(&cloud).await?;
    let names = cloud::function_names()?.into_iter().chain(["bench-floor".to_owned()]);
    let subjects: Vec<Subject> = names.map(|name| Subject { binary: binaries.join(&name), name }).collect();

    let mut functions = Vec::new();
    for subject in &subjects {
        eprintln!("measuring {} …", subject.name);
        functions.push(bench::measure(subject, &plan, &mut setup).await?);
    }
    // `target/release` or `target/debug`: a debug run must not pass for the release figures.
    let profile = binaries.file_name().map(|p| p.to_string_lossy().into_owned()).unwrap_or_default();
    let report = Report {
        profile,
        target: format!("{}-{}", std::env::consts::ARCH, std::env::consts::OS),
        cold_runs: cold,
        warm_runs: warm,
        functions,
    };
    let table = bench::markdown(&report);
    std::fs::create_dir_all(&out)?;
    std::fs::write(out.join("results.json"), serde_json::to_string_pretty(&report)? + "\n")?;
    std::fs::write(out.join("results.md"), &table)?;
    println!("{table}");
    println!("written to {}/results.json and results.md", out.display());
    Ok(())
}

async fn up(runtime: Runtime, lambda_port: u16) -> Result<(), Box<dyn std::error::Error>> {
    let fixture = Fixture::load(&Fixture::default_path())?;
    let (cloud, lambda_endpoint, _cargo_lambda) = match runtime {
        Runtime::Host => {
            let cloud = LocalCloud::with_fleet(fixture, cloud::debug_binaries(), BTreeMap::new()).await?;
            let endpoint = cloud.fleet().map(|f| f.endpoint()).unwrap_or_default();
            (cloud, endpoint, None)
        }
        Runtime::CargoLambda => {
            let mut cloud = LocalCloud::services(fixture).await?;
            let watch = tokio::process::Command::new("cargo")
                .args(["lambda", "watch", "-A", "127.0.0.1", "-P", &lambda_port.to_string()])
                .current_dir(repo_root())
                .envs(cloud.function_env())
                .stdin(Stdio::null())
                .kill_on_drop(true)
                .spawn()
                .map_err(|e| format!("cannot start `cargo lambda watch` (run `make setup`): {e}"))?;
            let addr = std::net::SocketAddr::from(([127, 0, 0, 1], lambda_port));
            if !switchboard_local::net::wait_for_listener(addr, Duration::from_secs(60)).await {
                return Err("cargo lambda watch did not start listening within 60 s".into());
            }
            cloud.start_gateway(format!("http://{addr}")).await?;
            (cloud, format!("http://{addr}"), Some(watch))
        }
    };
    let file = CloudFile {
        lambda_endpoint,
        gateway_endpoint: cloud.gateway.as_ref().map(|g| g.endpoint()),
        emulator_endpoint: cloud.emulator.endpoint(),
        moto_endpoint: cloud.moto.endpoint(),
        instance_arn: cloud.fixture.instance_arn(),
        queues: cloud.fixture.connect.queues.clone(),
        region: cloud.fixture.region.clone(),
        user_pool_client_id: cloud.user_pool.client_id.clone(),
    };
    std::fs::create_dir_all(repo_root().join(".local"))?;
    std::fs::write(cloud_file(), serde_json::to_string_pretty(&file)?)?;
    let admin = cloud.fixture.emergency.admins.first().map(|a| a.phone.clone()).unwrap_or_default();
    println!(
        "Switchboard local cloud is up.
  moto (DynamoDB, …)   {moto}
  emulator (Pinpoint)  {emulator}
  Lambda invoke API    {lambda}
  endpoints written to {file}

Play the admin story (the PIN is read from the SMS outbox; 1 = Sydney, 1 = set, 1 = first type):
  target/debug/switchboard-local call emergency/Emergency_Authentication --from {admin} --input auto --input 1 --input 1 --input 1
Then a customer calling the Sydney number:
  target/debug/switchboard-local call emergency/Emergency_Demo --from +61400111222 --to +61255501000
See the SMS sent so far:
  target/debug/switchboard-local outbox

Agent HTTP API ({gateway}): sign in as an agent, then log in to the CCP:
  TOKEN=$(target/debug/switchboard-local sign-in --email alice+video@example.com)
  curl -s -X POST {gateway}/ccplogin -H \"cognitoIdToken: $TOKEN\" -d '{{\"connectLoginByEmail\": true}}'

Ctrl-C stops everything.",
        moto = file.moto_endpoint,
        emulator = file.emulator_endpoint,
        lambda = file.lambda_endpoint,
        gateway = file.gateway_endpoint.clone().unwrap_or_default(),
        file = cloud_file().display(),
    );
    // Ctrl-C, or a SIGTERM/SIGHUP from a supervisor: either way stop what was started.
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())?;
    let mut hangup = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::hangup())?;
    tokio::select! {
        result = tokio::signal::ctrl_c() => result?,
        _ = terminate.recv() => {}
        _ = hangup.recv() => {}
    }
    println!("stopping");
    let _ = std::fs::remove_file(cloud_file());
    drop(cloud);
    Ok(())
}
