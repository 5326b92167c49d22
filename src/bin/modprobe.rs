#![no_main]
modutils::entry!(modutils::modprobe::main);
