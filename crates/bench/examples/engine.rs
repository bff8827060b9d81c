//! Prints ENGINE figures (BOOK-A through the full engine).
//! Run: `taskset -c 1 cargo run --release -p bulwark-bench --example engine`

fn main() -> Result<(), bulwark_bench::BenchError> {
    let results = bulwark_bench::run("engine", &bulwark_bench::BenchOptions::default())?;
    println!("{}", bulwark_bench::MARKDOWN_HEADER);
    for result in &results {
        println!("{}", result.markdown_row());
    }
    Ok(())
}
