fn main() {
    modutils::run(modutils::rmmod::main)
}
