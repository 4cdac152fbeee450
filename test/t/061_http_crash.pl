# Crash in the middle of a drain: requests queued, the server stopped with
# pg_ctl stop -m immediate while the worker sends them, started again.
# Every request is delivered at least once, none is lost, and duplicates
# are identifiable by their Idempotency-Key.
#
# 2,000 requests by default; 10,000 with scripts/test.sh --long (EC_LONG=1).
use strict;
use warnings;
use PostgreSQL::Test::Cluster;
use PostgreSQL::Test::Utils;
use Test::More;
use EcHttpServer;

my $n = $ENV{EC_LONG} ? 10000 : 2000;
my $server = EcHttpServer->new;

my $node = PostgreSQL::Test::Cluster->new('crash');
$node->init;
$node->append_conf('postgresql.conf', qq{
shared_preload_libraries = 'equity_connect'
ec.http_retry_base_ms = 20
ec.http_host_max_in_flight = 16
log_min_messages = info
});
$node->start;
$node->safe_psql('postgres', 'CREATE EXTENSION equity_connect CASCADE');

$node->safe_psql('postgres', "SELECT ec.http_enqueue('POST', '" . $server->url('/sleep/25/') . "' || g, NULL,
	convert_to('request ' || g, 'UTF8'), 'crash_test', 'crash-' || g) FROM generate_series(1, $n) g");

# stop hard once part of the queue has gone out
my $cut = int($n / 3);
for (my $i = 0; $i < 18000 && $server->count < $cut; $i++)
{
	select(undef, undef, undef, 0.01);
}
my $before = $server->count;
cmp_ok($before, '>=', $cut, "the worker was sending when the server stopped ($before of $n out)");
$node->stop('immediate');
my $at_crash = $server->count;
cmp_ok($at_crash, '<', $n, "the crash came before the end ($at_crash of $n out)");

$node->start;
$node->poll_query_until('postgres', "SELECT count(*) = 0 FROM ec.http_requests WHERE finished_at IS NULL")
  or die 'the queue did not drain after the restart';

is($node->safe_psql('postgres', "SELECT count(*) || ' ' || count(*) FILTER (WHERE state = 'succeeded')
	FROM ec.http_requests WHERE purpose = 'crash_test'"), "$n $n", "all $n requests are there and succeeded");

my %seen;
for my $r (@{ $server->requests('/sleep/25/') })
{
	my ($g) = $r->{path} =~ m{^/sleep/25/(\d+)$};
	is($r->{key}, "crash-$g", "request $g carries its own key") unless $r->{key} eq "crash-$g";
	$seen{ $r->{key} }++;
}
my @missing = grep { !$seen{"crash-$_"} } 1 .. $n;
is(scalar(@missing), 0, 'every request was delivered at least once') or diag("missing: @missing[0 .. 9]");
my $dups = 0;
$dups += $_ - 1 for values %seen;
my $extra = grep { !/^crash-\d+$/ } keys %seen;
is($extra, 0, 'nothing else was sent');
note("$dups duplicates after the crash, each with the key of its request");
cmp_ok($dups, '<=', $at_crash, 'duplicates are at most what was out before the crash');
is($node->safe_psql('postgres', "SELECT count(*) FROM ec.pipeline_dlq"), '0', 'no dead letters');

$node->stop;
$server->stop;
done_testing();
