#include "agents/agent_cli.hpp"

int main(int argc, char** argv) { return pw::agent::run_cli(argc, argv); }
