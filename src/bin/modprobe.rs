fn main() {
    modutils::run(modutils::modprobe::main)
}
