#![no_main]
modutils::entry!(modutils::lsmod::main);
