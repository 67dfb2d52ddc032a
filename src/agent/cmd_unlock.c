#include "commands.h"
#include "log.h"

int cmd_unlock(int argc, char **argv)
{
	(void)argc;
	(void)argv;
	log_error("unlock: not implemented yet");
	return 2;
}
