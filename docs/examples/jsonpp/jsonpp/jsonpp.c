/* jsonpp [JSON]: parses JSON (the argument, else stdin) with cJSON and prints it
 * formatted; exit 1 on text that is not JSON. */
#include <stdio.h>
#include <stdlib.h>
#include <cjson/cJSON.h>

int main(int argc, char **argv)
{
	static char buf[1 << 16];
	const char *text = buf;
	if (argc > 1) {
		text = argv[1];
	} else {
		size_t n = fread(buf, 1, sizeof buf - 1, stdin);
		buf[n] = 0;
	}
	cJSON *j = cJSON_Parse(text);
	if (!j) {
		fprintf(stderr, "jsonpp: not JSON near: %.20s\n", cJSON_GetErrorPtr());
		return 1;
	}
	char *out = cJSON_Print(j);
	puts(out);
	free(out);
	cJSON_Delete(j);
	return 0;
}
