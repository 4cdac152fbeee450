# Secrets never reach the server log when passed as README.md says (COPY,
# a server-side file, ec.generate_key), even with every statement logged and
# the key functions failing; a literal in the statement text does (the
# control that shows the check can see a leak).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $node = PostgreSQL::Test::Cluster->new('secrets');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'equity_connect'
log_statement = 'all'
log_min_error_statement = error
log_min_messages = debug1
});
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION equity_connect CASCADE');

my $copy_secret = 'copy-secret-7f3a9c21e8d4b605';
my $file_secret = 'file-secret-19be04d7c6a3f582';

# 1. COPY: the secret travels as data, not statement text; then a failing call
$node->safe_psql('postgres', qq{CREATE TEMP TABLE k (secret text);
COPY k FROM stdin;
$copy_secret
\\.
SELECT ec.add_key('request', 'log-copy', convert_to(secret, 'UTF8')) FROM k;});
my ($ret, $out, $err) = $node->psql('postgres', qq{CREATE TEMP TABLE k (secret text);
COPY k FROM stdin;
$copy_secret
\\.
SELECT ec.add_key('request', 'log-copy', convert_to(secret, 'UTF8')) FROM k;});
like($err, qr/key "log-copy" of purpose "request" already exists/, 'a failing add_key names the key');
unlike($err, qr/\Q$copy_secret\E/, 'and not the secret');

# 2. a file the server reads
my $keyfile = $node->data_dir . '/log-file.key';
open my $fh, '>', $keyfile or die $!;
print $fh $file_secret;
close $fh;
$node->safe_psql('postgres', "SELECT ec.add_key('consent', 'log-file', pg_read_binary_file('$keyfile'))");

# 3. generated in the server: shown once, to the caller only
my $generated = $node->safe_psql('postgres', "SELECT encode(ec.generate_key('consent', 'log-generated'), 'hex')");
like($generated, qr/^[0-9a-f]{64}$/, 'ec.generate_key returns the secret to its caller');

# use the keys: the cache loads them, tokens are signed, requests refused
$node->safe_psql('postgres', q{INSERT INTO ec.leads (first_name) VALUES ('Log');
SELECT ec.verify_consent_token(ec.mint_consent_token(id)) FROM ec.leads;
SELECT ec.verify_request('x', '{"X-Timestamp": "1", "X-Content-SHA256": "00", "X-Signature": "v1=00"}', '127.0.0.1');});

# the control: a literal secret in the statement is logged
$node->safe_psql('postgres', "SELECT ec.add_key('api', 'log-literal', 'literal-secret-5d2e8b1f09a7c6')");

my $log = slurp_file($node->logfile);
like($log, qr/literal-secret-5d2e8b1f09a7c6/, 'control: a literal in the statement text reaches the log');
unlike($log, qr/\Q$copy_secret\E/, 'a key passed by COPY is not in the log');
unlike($log, qr/\Q$file_secret\E/, 'a key read from a server file is not in the log');
unlike($log, qr/\Q$generated\E/, 'a generated key is not in the log');
my $copy_hex = unpack('H*', $copy_secret);
my $file_hex = unpack('H*', $file_secret);
unlike($log, qr/\Q$copy_hex\E|\Q$file_hex\E/, 'nor in hex');

$node->stop;
done_testing();
