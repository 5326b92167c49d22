/* The exec floor for benches/exec-floor.sh: a static program that does
 * nothing. */
int main(void)
{
	return 0;
}
