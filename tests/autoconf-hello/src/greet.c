#include "greet.h"

const char *greet_prefix(void)
{
	return "hello-ac";
}
