#include "commands.h"
#include "log.h"

int cmd_verify_quote(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	log_error("verify-quote: not implemented yet");
	return 2;
}
