fn main() {
    modutils::run(modutils::kmod::main)
}
