fn main() {
    modutils::run(modutils::lsmod::main)
}
