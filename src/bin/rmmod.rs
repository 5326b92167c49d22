#![no_main]
modutils::entry!(modutils::rmmod::main);
