# A test HTTP server on 127.0.0.1 (test/http_server.py) for the TAP tests
# of the HTTP queue: started by new(), stopped by stop() or when the object
# goes away, its request log read back by requests().
package EcHttpServer;

use strict;
use warnings;
use File::Temp qw(tempdir);
use JSON::PP;
use Time::HiRes qw(usleep);

sub new
{
	my ($class, %opt) = @_;
	my $src = $ENV{EC_SRC} or die "EC_SRC is not set";
	my $dir = tempdir(CLEANUP => 1);
	my @args = ('--port-file', "$dir/port", '--log', "$dir/log");
	push @args, ('--tls-cert', $opt{tls_cert}, '--tls-key', $opt{tls_key}) if $opt{tls_cert};
	my $pid = fork();
	die "fork: $!" unless defined $pid;
	if ($pid == 0)
	{
		open(STDOUT, '>', "$dir/stdout");
		open(STDERR, '>', "$dir/stderr");
		exec('python3', "$src/test/http_server.py", @args) or die "exec: $!";
	}
	for (my $i = 0; $i < 3000 && !-s "$dir/port"; $i++)
	{
		usleep(10_000);
	}
	open(my $fh, '<', "$dir/port") or die "test HTTP server did not start: " . `cat $dir/stderr`;
	my $port = <$fh>;
	close($fh);
	chomp $port;
	return bless { pid => $pid, dir => $dir, port => $port, scheme => ($opt{tls_cert} ? 'https' : 'http') },
	  $class;
}

sub port { return $_[0]->{port}; }

# The URL of path on this server.
sub url
{
	my ($self, $path) = @_;
	return "$self->{scheme}://127.0.0.1:$self->{port}$path";
}

# Every request received so far (hashes: t, method, path, headers, body,
# key, in_progress, conn), optionally only those whose path starts with prefix.
sub requests
{
	my ($self, $prefix) = @_;
	my @out;
	open(my $fh, '<', "$self->{dir}/log") or return [];
	while (my $line = <$fh>)
	{
		next unless $line =~ /\n\z/;    # a line still being written
		my $r = decode_json($line);
		push @out, $r if !defined $prefix || index($r->{path}, $prefix) == 0;
	}
	close($fh);
	return \@out;
}

# How many requests were received so far (cheap: counts log lines).
sub count
{
	my ($self) = @_;
	open(my $fh, '<', "$self->{dir}/log") or return 0;
	my $n = 0;
	my $buf;
	while (read($fh, $buf, 1 << 20))
	{
		$n += ($buf =~ tr/\n//);
	}
	close($fh);
	return $n;
}

sub stop
{
	my ($self) = @_;
	return unless $self->{pid};
	kill 'TERM', $self->{pid};
	waitpid($self->{pid}, 0);
	$self->{pid} = undef;
}

sub DESTROY { $_[0]->stop; }

1;
