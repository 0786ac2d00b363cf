-- Storage quotas per department: the undelivered deliveries of the
-- messages each department sent, and the blob bytes each holds, counted
-- without reading what was delivered long ago or other holders' blobs.
CREATE INDEX deliveries_undelivered ON deliveries(seq) WHERE state = 'pending';
CREATE INDEX blob_holders_department ON blob_holders(department);
