// Collections share one PostgreSQL server and a 2-core machine; each owns a broker and a database.
// Running them one after another keeps timings (consumer group joins, outbox polling) predictable.
[assembly: CollectionBehavior(DisableTestParallelization = true)]
