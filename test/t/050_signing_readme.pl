# The README's signing example, run as written: its shell script (openssl)
# signs a body, a stand-in curl catches the headers, ec.verify_request judges
# them. Also the README's test vector, and a key passed from a file.
use strict;
use warnings;
use File::Temp qw(tempdir);
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;

my $src = $ENV{EC_SRC} or die "EC_SRC is not set";
my $readme = slurp_file("$src/README.md");

# the script between the markers, fenced as sh
my ($script) = $readme =~ /<!-- sign-upload\.sh[^>]*-->\s*```sh\n(.*?)```\s*<!-- end sign-upload\.sh -->/s;
ok(defined $script, 'README has the sign-upload.sh example');

my $node = PostgreSQL::Test::Cluster->new('signing');
$node->init;
$node->append_conf('postgresql.conf', "shared_preload_libraries = 'equity_connect'\n");
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION equity_connect CASCADE');
my $secret_hex = $node->safe_psql('postgres',
	"SELECT encode(ec.generate_key('request', 'readme-1'), 'hex')");
like($secret_hex, qr/^[0-9a-f]{64}$/, 'ec.generate_key gives a 32-byte key');

my $dir = tempdir(CLEANUP => 1);
write_file("$dir/sign-upload.sh", $script);
# a curl that writes the headers it was given as JSON, and checks the body argument
mkdir "$dir/bin";
write_file("$dir/bin/curl", <<'SH');
#!/bin/sh
out=$CURL_OUT; first=1; body=
printf '{' > "$out"
while [ $# -gt 0 ]; do
	case "$1" in
		-H) name=${2%%:*}; value=${2#*: }
			[ $first = 1 ] || printf ',' >> "$out"; first=0
			printf '"%s": "%s"' "$name" "$value" >> "$out"; shift 2 ;;
		--data-binary) body=$2; shift 2 ;;
		*) shift ;;
	esac
done
printf '}' >> "$out"
[ "$body" = "@$EXPECT_BODY" ] || { echo "curl: unexpected body argument $body" >&2; exit 1; }
SH
chmod 0755, "$dir/bin/curl";

# sign BODY with KEY_HEX through the README's script; the headers as JSON
sub sign
{
	my ($body, $key_hex) = @_;
	local $ENV{PATH} = "$dir/bin:$ENV{PATH}";
	local $ENV{SECRET_HEX} = $key_hex;
	local $ENV{URL} = 'http://127.0.0.1:9/webhook/upload';
	local $ENV{CURL_OUT} = "$dir/headers.json";
	local $ENV{EXPECT_BODY} = $body;
	my ($out, $err);
	my $ok = IPC::Run::run([ 'sh', "$dir/sign-upload.sh", $body ], '>', \$out, '2>', \$err);
	die "sign-upload.sh failed: $err" unless $ok;
	return slurp_file("$dir/headers.json");
}

sub verify
{
	my ($body, $headers) = @_;
	return $node->safe_psql('postgres',
		"SELECT r ->> 'status' || ' ' || (r ->> 'reason') FROM ec.verify_request(pg_read_binary_file('$body'), \$h\$$headers\$h\$::jsonb, '127.0.0.1') r");
}

write_file("$dir/upload.csv", "first_name,last_name,property_address\nAda,Lovelace,1 Main St\n");
my $headers = sign("$dir/upload.csv", $secret_hex);
like($headers, qr/"X-Signature": "v1=[0-9a-f]{64}"/, 'the script sends a v1 signature');
is(verify("$dir/upload.csv", $headers), '200 ok', 'a body signed by the README script is accepted');
is(verify("$dir/upload.csv", sign("$dir/upload.csv", $secret_hex)), '409 replay', 'the same body again is a replay');

write_file("$dir/other.csv", "first_name\nBob\n");
$headers = sign("$dir/other.csv", $secret_hex);
append_to_file("$dir/other.csv", "Mallory\n");
is(verify("$dir/other.csv", $headers), '401 content_sha256_mismatch', 'a body changed after signing is refused');
is(verify("$dir/other.csv", sign("$dir/other.csv", '00' x 32)), '401 signature_mismatch', 'another key is refused');

# the README's vector, recomputed with openssl
my ($vsha) = $readme =~ /X-Content-SHA256: ([0-9a-f]{64})/;
my ($vsig) = $readme =~ /X-Signature: v1=([0-9a-f]{64})/;
write_file("$dir/vector.json", '{"leads":[]}');
my ($sha) = split / /, `openssl dgst -sha256 -r $dir/vector.json`;
is($sha, $vsha, 'README vector: the body hash is what openssl computes');
my ($sig) = split / /, `printf 'v1:1700000000:%s' $sha | openssl dgst -sha256 -mac HMAC -macopt key:test-secret-1-0123456789abcdef -r`;
is($sig, $vsig, 'README vector: the signature is what openssl computes');

# a key passed from a file the server reads: the statement holds only the path
my $keyfile = $node->data_dir . '/readme-2.key';
write_file($keyfile, 'file-secret-0123456789abcdef');
$node->safe_psql('postgres', "SELECT ec.add_key('request', 'readme-2', pg_read_binary_file('$keyfile'))");
write_file("$dir/third.csv", "first_name\nCy\n");
is(verify("$dir/third.csv", sign("$dir/third.csv", unpack('H*', 'file-secret-0123456789abcdef'))),
	'200 ok', 'a key added from a file verifies');

$node->stop;
done_testing();

sub write_file
{
	my ($path, $content) = @_;
	open my $fh, '>', $path or die "could not write $path: $!";
	print $fh $content;
	close $fh;
}
